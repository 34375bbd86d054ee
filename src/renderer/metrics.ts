// Prometheus metrics of one renderer, on the role's own registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Stats } from './control-channel.js'

export interface RendererMetrics {
  renders: Counter
  reloads: Counter<'result' | 'cause'>
  rejected: Counter
  invalid: Counter<'reason'>
  reloadDuration: Histogram
  convergence: Histogram
  lastError: Gauge<'reason'>
  generation: Gauge
  upstreams: Gauge
  endpoints: Gauge
  pushes: Counter<'result' | 'kind'>
  pushDuration: Histogram
  routeConflicts: Gauge
  routeHosts: Gauge
}

const LATENCY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export function createRendererMetrics (registry: Registry): RendererMetrics {
  const p = 'driftgate_renderer_'
  const r = [registry]
  return {
    renders: new Counter({ name: `${p}renders_total`, help: 'renders of the model (changed or not)', registers: r }),
    reloads: new Counter({
      name: `${p}reloads_total`,
      help: 'nginx reloads by result (ok, failed) and cause (start, retry, template, services: a service appeared or went or its keepalive changed, endpoints: file mode only)',
      labelNames: ['result', 'cause'],
      registers: r,
    }),
    rejected: new Counter({ name: `${p}rejected_total`, help: 'renders refused by the template or by nginx -t (previous files restored)', registers: r }),
    invalid: new Counter({ name: `${p}invalid_records_total`, help: 'KV records dropped by validation', labelNames: ['reason'], registers: r }),
    reloadDuration: new Histogram({ name: `${p}reload_duration_seconds`, help: 'SIGHUP to the new generation served', buckets: LATENCY_BUCKETS, registers: r }),
    convergence: new Histogram({ name: `${p}convergence_seconds`, help: 'first KV change seen to reload confirmed', buckets: LATENCY_BUCKETS, registers: r }),
    lastError: new Gauge({ name: `${p}last_error`, help: '1 while the last apply failed (label: why), 0 once one succeeds', labelNames: ['reason'], registers: r }),
    generation: new Gauge({ name: `${p}generation`, help: 'generation nginx serves', registers: r }),
    upstreams: new Gauge({ name: `${p}upstreams`, help: 'upstreams in the applied config', registers: r }),
    endpoints: new Gauge({ name: `${p}endpoints`, help: 'servers in the applied config', registers: r }),
    pushes: new Counter({ name: `${p}pushes_total`, help: 'lua mode: endpoint batches pushed into nginx by result (ok, failed) and kind (delta, full)', labelNames: ['result', 'kind'], registers: r }),
    routeConflicts: new Gauge({ name: `${p}route_conflicts`, help: 'route claims (host+path) skipped because another service holds them (spec beats label; else the smallest service name)', registers: r }),
    routeHosts: new Gauge({ name: `${p}route_hosts`, help: 'host names with a server block in the applied routes', registers: r }),
    pushDuration: new Histogram({ name: `${p}push_duration_seconds`, help: 'lua mode: one push, sent to in the shared dict', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: r }),
  }
}

/**
 * Why the last apply failed: template, rejected (nginx -t said no), tester
 * (nginx -t gave no verdict: crashed or timed out), reload, not_running (files
 * written, nobody to reload), push (lua mode's control channel), write,
 * certificate (applied, but a pair of --certs was refused: see the log).
 */
export const ERROR_REASONS = ['template', 'rejected', 'tester', 'reload', 'not_running', 'push', 'write', 'certificate'] as const
export type ErrorReason = (typeof ERROR_REASONS)[number]

/** Sets last_error{reason} to 1 for `reason` and 0 for the others (null: all 0). */
export function setLastError (m: RendererMetrics, reason: ErrorReason | null): void {
  for (const r of ERROR_REASONS) m.lastError.set({ reason: r }, r === reason ? 1 : 0)
}

/**
 * Lua mode: per-service request and upstream-error counts and the shared
 * dict's use, read from nginx when Prometheus scrapes (the console and
 * autoscaling read them from here).
 */
export function registerNginxStats (registry: Registry, read: () => Promise<Stats | null>): void {
  const p = 'driftgate_renderer_nginx_'
  let last: Promise<Stats | null> | null = null
  // one read per scrape, shared by the gauges below
  const stats = async (): Promise<Stats | null> => {
    last ??= read().catch(() => null).finally(() => { setTimeout(() => { last = null }, 100).unref() })
    return await last
  }
  new Gauge({
    name: `${p}requests`, help: 'requests nginx balanced per service (since nginx started)', labelNames: ['service'], registers: [registry],
    async collect () { const s = await stats(); this.reset(); for (const [n, v] of Object.entries(s?.services ?? {})) this.set({ service: n }, v[0]) },
  })
  new Gauge({
    name: `${p}upstream_errors`, help: 'tries that failed to connect or timed out, per service (since nginx started)', labelNames: ['service'], registers: [registry],
    async collect () { const s = await stats(); this.reset(); for (const [n, v] of Object.entries(s?.services ?? {})) this.set({ service: n }, v[1]) },
  })
  new Gauge({
    name: `${p}dict_used_bytes`, help: 'bytes of the driftgate shared dict in use', registers: [registry],
    async collect () { const s = await stats(); if (s != null) this.set(s.capacity - s.free) },
  })
}
