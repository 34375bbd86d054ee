// Prometheus metrics: one registry per role instance (several instances can
// share a process in tests), every metric prefixed `driftgate_<role>_`.
import { Registry, collectDefaultMetrics } from 'prom-client'

export function createMetricsRegistry (role: string, opts: { defaults?: boolean } = {}): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ role })
  if (opts.defaults === true) collectDefaultMetrics({ register: registry, prefix: 'driftgate_' })
  return registry
}
