// Prometheus view of the service load: per-service rates read at scrape time
// from the rate computer (nothing kept twice), and refused reports.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { ServiceRate } from './rates.js'

export interface StatsMetrics {
  reports: Counter<'result'>
}

export function createStatsMetrics (registry: Registry, all: () => Record<string, ServiceRate>): StatsMetrics {
  const p = 'driftgate_registry_service_'
  // One rate computation per scrape, shared by both gauges.
  let snapshot: Record<string, ServiceRate> | undefined
  const read = (): Record<string, ServiceRate> => {
    if (snapshot === undefined) { snapshot = all(); setTimeout(() => { snapshot = undefined }, 100).unref() }
    return snapshot
  }
  new Gauge({
    name: `${p}requests_per_second`, help: 'requests per second nginx balanced for the service, summed over the renderers reporting (lua mode)', labelNames: ['service'], registers: [registry],
    collect () { this.reset(); for (const [n, r] of Object.entries(read())) this.set({ service: n }, r.requestsPerSec) },
  })
  new Gauge({
    name: `${p}upstream_errors_per_second`, help: 'failed upstream tries per second for the service, summed over the renderers reporting (lua mode)', labelNames: ['service'], registers: [registry],
    collect () { this.reset(); for (const [n, r] of Object.entries(read())) this.set({ service: n }, r.errorsPerSec) },
  })
  return {
    reports: new Counter({
      name: 'driftgate_registry_stats_reports_total',
      help: 'renderer stats reports by result: ok, or why refused (schema, renderer_mismatch, stale, oversized, not_json, not_utf8)',
      labelNames: ['result'],
      registers: [registry],
    }),
  }
}
