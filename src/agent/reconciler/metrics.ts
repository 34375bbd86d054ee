// Reconciler metrics on the agent's Registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface ReconcilerMetrics {
  actions: Counter<'action'>
  errors: Counter
  managed: Gauge
  drainSeconds: Histogram
  drainTimeouts: Counter
  refused: Counter<'reason'>
}

export function createReconcilerMetrics (registry: Registry): ReconcilerMetrics {
  // A start retried by the agent (buckets not there yet) finds them registered already.
  const existing = registry.getSingleMetric('driftgate_agent_reconcile_actions_total')
  if (existing !== undefined) {
    const get = <T>(name: string): T => registry.getSingleMetric(name) as T
    return {
      actions: existing as Counter<'action'>,
      errors: get('driftgate_agent_reconcile_errors_total'),
      managed: get('driftgate_agent_managed_containers'),
      drainSeconds: get('driftgate_agent_drain_seconds'),
      drainTimeouts: get('driftgate_agent_drain_timeouts_total'),
      refused: get('driftgate_agent_reconcile_refused_total'),
    }
  }
  const registers = [registry]
  return {
    actions: new Counter({ name: 'driftgate_agent_reconcile_actions_total', help: 'Replicas created, started, replaced, removed', labelNames: ['action'], registers }),
    errors: new Counter({ name: 'driftgate_agent_reconcile_errors_total', help: 'Failed reconcile passes or tasks (retried)', registers }),
    managed: new Gauge({ name: 'driftgate_agent_managed_containers', help: 'Containers placed here by driftgate', registers }),
    drainSeconds: new Histogram({
      name: 'driftgate_agent_drain_seconds', help: 'From marking draining to every live renderer dropping the container',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers,
    }),
    drainTimeouts: new Counter({ name: 'driftgate_agent_drain_timeouts_total', help: 'Drains that hit the timeout (stopped anyway)', registers }),
    refused: new Counter({
      name: 'driftgate_agent_reconcile_refused_total',
      help: 'Assigned replicas not started: the spec network is not MacVLAN here (network_not_macvlan) or does not exist (network_missing); counted once per replica and spec',
      labelNames: ['reason'],
      registers,
    }),
  }
}
