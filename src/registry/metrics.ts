// The registry's Prometheus metrics, on the role's own prom-client Registry
// (one per registry instance: two instances in one process need two).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { HostRecord, HostStatus } from '../core/index.js'

export interface RegistryMetrics {
  eventsApplied: Counter<'kind' | 'source'>
  staleEvents: Counter<'reason'>
  snapshotsApplied: Counter
  invalidMessages: Counter<'reason' | 'type'>
  applyLatency: Histogram
  failStatic: Gauge
  writeConflicts: Counter
  startRetries: Counter<'step'>
  coalescedEvents: Counter
  heartbeatsCoalesced: Counter
  /** Where `hosts{status}` reads from at scrape time. */
  setHostSource: (source: () => Iterable<HostRecord>) => void
  /** Where `snapshots_waiting` and `snapshot_bytes_in_flight` read from at scrape time (the ingest's snapshot gate). */
  setSnapshotSource: (source: () => SnapshotLoad) => void
}

/** What the snapshot gate holds (snapshot-gate.ts): a fill shows here as a queue that drains. */
export interface SnapshotLoad { waiting: number, inFlight: number }

const STATUSES: HostStatus[] = ['up', 'suspect', 'down']

export function createRegistryMetrics (register: Registry): RegistryMetrics {
  const p = 'driftgate_registry_'
  let hostSource: () => Iterable<HostRecord> = () => []
  let snapshotSource: () => SnapshotLoad = () => ({ waiting: 0, inFlight: 0 })
  const m: RegistryMetrics = {
    eventsApplied: new Counter({ name: `${p}events_applied_total`, help: 'Container changes written to the endpoint table', labelNames: ['kind', 'source'], registers: [register] }),
    staleEvents: new Counter({ name: `${p}stale_events_total`, help: 'Changes ignored because the table already holds newer (or the same) state', labelNames: ['reason'], registers: [register] }),
    snapshotsApplied: new Counter({ name: `${p}snapshots_applied_total`, help: 'Host snapshots applied', registers: [register] }),
    invalidMessages: new Counter({ name: `${p}invalid_messages_total`, help: 'Messages dropped as invalid, by reason', labelNames: ['reason', 'type'], registers: [register] }),
    applyLatency: new Histogram({
      name: `${p}apply_latency_seconds`,
      help: 'From the agent sending a change (sentAt) to its write in the endpoint table',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [register],
    }),
    failStatic: new Gauge({ name: `${p}fail_static`, help: '1 while most hosts are silent and nothing is removed', registers: [register] }),
    writeConflicts: new Counter({ name: `${p}write_conflicts_total`, help: 'Compare-and-set writes lost to a concurrent writer and retried', registers: [register] }),
    startRetries: new Counter({ name: `${p}start_retries_total`, help: 'JetStream start-up steps retried after a timeout or an unavailable server', labelNames: ['step'], registers: [register] }),
    coalescedEvents: new Counter({ name: `${p}coalesced_events_total`, help: 'Changes of one container folded into a later write of the same key instead of a write of their own', registers: [register] }),
    heartbeatsCoalesced: new Counter({ name: `${p}heartbeats_unwritten_total`, help: 'Heartbeats of an up host that changed nothing but a recent lastSeen, so not written', registers: [register] }),
    setHostSource: (s) => { hostSource = s },
    setSnapshotSource: (s) => { snapshotSource = s },
  }
  new Gauge({
    name: `${p}snapshots_waiting`,
    help: 'Host snapshots received and not yet decoded: waiting for room in the snapshot gate (a fill, or many agents reconnecting)',
    registers: [register],
    collect () { this.set(snapshotSource().waiting) },
  })
  new Gauge({
    name: `${p}snapshot_bytes_in_flight`,
    help: 'Bytes of host snapshots being decoded and applied now (bounded by the snapshot gate)',
    registers: [register],
    collect () { this.set(snapshotSource().inFlight) },
  })
  new Gauge({
    name: `${p}hosts`,
    help: 'Known hosts by liveness status',
    labelNames: ['status'],
    registers: [register],
    collect () {
      const counts: Record<string, number> = { up: 0, suspect: 0, down: 0 }
      for (const h of hostSource()) counts[h.status]++
      for (const s of STATUSES) this.set({ status: s }, counts[s])
    },
  })
  return m
}
