// Placement metrics on the registry's own prom-client Registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface PlacementMetrics {
  leader: Gauge
  runs: Counter
  runSeconds: Histogram
  writes: Counter<'op'>
  conflicts: Counter
  unschedulable: Gauge
  failStatic: Gauge
  invalid: Counter<'bucket'>
}

export function createPlacementMetrics (registry: Registry): PlacementMetrics {
  const registers = [registry]
  return {
    leader: new Gauge({ name: 'driftgate_placement_leader', help: '1 while this instance holds the placement lease', registers }),
    runs: new Counter({ name: 'driftgate_placement_runs_total', help: 'Scheduler runs by the leader', registers }),
    runSeconds: new Histogram({
      name: 'driftgate_placement_run_seconds',
      help: 'Scheduler run time (pure function only)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    writes: new Counter({ name: 'driftgate_placement_writes_total', help: 'Assignment writes, by op', labelNames: ['op'], registers }),
    conflicts: new Counter({ name: 'driftgate_placement_write_conflicts_total', help: 'Assignment writes refused by CAS', registers }),
    unschedulable: new Gauge({ name: 'driftgate_placement_unschedulable_replicas', help: 'Replicas that fit on no host', registers }),
    failStatic: new Gauge({ name: 'driftgate_placement_fail_static', help: '1 while more than half of the known hosts are down', registers }),
    invalid: new Counter({ name: 'driftgate_placement_invalid_values_total', help: 'KV values ignored as invalid', labelNames: ['bucket'], registers }),
  }
}
