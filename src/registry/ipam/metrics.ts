// Allocator metrics. Several allocators may share one registry in tests, so
// each metric is reused when it already exists.
import { Counter, Histogram, type Registry } from 'prom-client'

function counter (reg: Registry, name: string, help: string, labelNames: string[]): Counter {
  return (reg.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [reg] })
}

export interface AllocatorMetrics {
  requests: Counter
  duration: Histogram
  conflicts: Counter
  gc: Counter
  invalid: Counter
  refused: Counter
  /** Block layout: compare-and-set writes of block records, and the requests they carried. */
  blockWrites: Counter
  blockOps: Counter
}

export function allocatorMetrics (reg: Registry): AllocatorMetrics {
  const durationName = 'driftgate_ipam_request_duration_seconds'
  return {
    requests: counter(reg, 'driftgate_ipam_requests_total', 'IPAM requests answered, by op and result', ['op', 'result']),
    duration: (reg.getSingleMetric(durationName) as Histogram | undefined) ?? new Histogram({
      name: durationName,
      help: 'Time to answer one IPAM request',
      labelNames: ['op'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers: [reg],
    }),
    conflicts: counter(reg, 'driftgate_ipam_cas_conflicts_total', 'Lost compare-and-set races (retried with another address)', ['op']),
    gc: counter(reg, 'driftgate_ipam_gc_total', 'Garbage-collection actions on allocations', ['action']),
    invalid: counter(reg, 'driftgate_ipam_invalid_total', 'Invalid IPAM requests, snapshots or KV values dropped', ['what']),
    refused: counter(reg, 'driftgate_ipam_refused_total',
      'IPAM requests and snapshots refused because their subject is malformed or names another host than the payload', ['what', 'reason']),
    blockWrites: counter(reg, 'driftgate_ipam_block_writes_total', 'Block-layout pools: block records written (one compare-and-set each)', []),
    blockOps: counter(reg, 'driftgate_ipam_block_ops_total', 'Block-layout pools: changes carried by block writes (ops per write = ops / writes)', []),
  }
}
