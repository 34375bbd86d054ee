// Prometheus metrics of one renderer, on the role's own registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface RendererMetrics {
  renders: Counter
  reloads: Counter<'result'>
  rejected: Counter
  invalid: Counter<'reason'>
  reloadDuration: Histogram
  convergence: Histogram
  lastError: Gauge<'reason'>
  generation: Gauge
  upstreams: Gauge
  endpoints: Gauge
}

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export function createRendererMetrics (registry: Registry): RendererMetrics {
  const p = 'driftgate_renderer_'
  const r = [registry]
  return {
    renders: new Counter({ name: `${p}renders_total`, help: 'renders of the model (changed or not)', registers: r }),
    reloads: new Counter({ name: `${p}reloads_total`, help: 'nginx reloads by result (ok, failed)', labelNames: ['result'], registers: r }),
    rejected: new Counter({ name: `${p}rejected_total`, help: 'renders refused by the template or by nginx -t (previous files restored)', registers: r }),
    invalid: new Counter({ name: `${p}invalid_records_total`, help: 'KV records dropped by validation', labelNames: ['reason'], registers: r }),
    reloadDuration: new Histogram({ name: `${p}reload_duration_seconds`, help: 'SIGHUP to the new generation served', buckets: LATENCY_BUCKETS, registers: r }),
    convergence: new Histogram({ name: `${p}convergence_seconds`, help: 'first KV change seen to reload confirmed', buckets: LATENCY_BUCKETS, registers: r }),
    lastError: new Gauge({ name: `${p}last_error`, help: '1 while the last apply failed (label: why), 0 once one succeeds', labelNames: ['reason'], registers: r }),
    generation: new Gauge({ name: `${p}generation`, help: 'generation nginx serves', registers: r }),
    upstreams: new Gauge({ name: `${p}upstreams`, help: 'upstreams in the applied config', registers: r }),
    endpoints: new Gauge({ name: `${p}endpoints`, help: 'servers in the applied config', registers: r }),
  }
}

export const ERROR_REASONS = ['template', 'rejected', 'reload', 'write'] as const
export type ErrorReason = (typeof ERROR_REASONS)[number]

/** Sets last_error{reason} to 1 for `reason` and 0 for the others (null: all 0). */
export function setLastError (m: RendererMetrics, reason: ErrorReason | null): void {
  for (const r of ERROR_REASONS) m.lastError.set({ reason: r }, r === reason ? 1 : 0)
}
