// Autoscaler metrics on the registry's prom-client Registry.
import { Counter, type Registry } from 'prom-client'

export interface AutoscaleMetrics {
  evaluations: Counter<'action'>
  changes: Counter<'direction'>
}

export function createAutoscaleMetrics (registry: Registry): AutoscaleMetrics {
  const registers = [registry]
  return {
    evaluations: new Counter({ name: 'driftgate_autoscale_evaluations_total', help: 'Autoscaler decisions by the placement leader, by action (up, down, hold)', labelNames: ['action'], registers }),
    changes: new Counter({ name: 'driftgate_autoscale_changes_total', help: 'Replica counts the autoscaler wrote, by direction', labelNames: ['direction'], registers }),
  }
}
