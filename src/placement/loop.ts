// The leader's loop: on any change that matters (specs, host status or
// capacity, assignments) run the scheduler, debounced, and write the
// difference to driftgate_assignments with compare-and-set. A follower only
// keeps its mirrors current, so a takeover schedules at once.
import type { KV } from 'nats'
import type { AssignmentRecord, HostRecord, Logger, ServiceRecord } from '../core/index.js'
import type { KvTable, TableChange } from '../bus/index.js'
import { encodeJson } from '../bus/index.js'
import { schedule } from './scheduler.js'
import { diffAssignments, hostMatters, type AssignmentWrite } from './diff.js'
import { isConflict } from './leader.js'
import type { ScheduleResult } from './types.js'
import type { PlacementMetrics } from './metrics.js'
import type { Replacer } from './replacer.js'
import type { ReplicaHealth } from './replica-health.js'

export interface PlacementTables {
  services: KvTable<ServiceRecord>
  hosts: KvTable<HostRecord>
  assignments: KvTable<AssignmentRecord>
  /** Replica health from the endpoints table (issue 19), when placement follows it. */
  replicaHealth?: ReplicaHealth
}

export interface LoopOptions {
  tables: PlacementTables
  assignmentsKv: KV
  log: Logger
  metrics: PlacementMetrics
  isLeader: () => boolean
  debounceMs: number
  /** A full run this often while leader, whatever happened (safety net). */
  resyncMs: number
  /** Concurrent KV writes. */
  parallel?: number
  /** Replaces unhealthy replicas (issue 19). */
  replacer?: Replacer
}

export class PlacementLoop {
  /** KV revision of every assignment key, from the table's change events. */
  readonly revisions = new Map<string, number>()
  last?: ScheduleResult
  private timer?: NodeJS.Timeout
  private resync?: NodeJS.Timeout
  private running?: Promise<void>
  private again = false
  /** Our own last write: the next run waits until the mirror has seen it. */
  private minRevision = 0
  private closed = false

  private readonly onAssignment = (c: TableChange<AssignmentRecord>): void => {
    if (c.value === undefined) this.revisions.delete(c.key); else this.revisions.set(c.key, c.revision)
    this.trigger()
  }

  private readonly onHost = (c: TableChange<HostRecord>): void => { if (hostMatters(c.previous, c.value)) this.trigger() }
  private readonly onService = (): void => { this.trigger() }

  constructor (private readonly o: LoopOptions) {}

  /** Call before the tables start, so the initial load fills `revisions`. */
  attach (): void {
    this.o.tables.assignments.on('change', this.onAssignment)
    this.o.tables.hosts.on('change', this.onHost)
    this.o.tables.services.on('change', this.onService)
    this.resync = setInterval(() => { this.trigger() }, this.o.resyncMs)
    this.resync.unref()
  }

  /** Schedules a run after the debounce; several triggers make one run. */
  trigger (): void {
    if (this.closed || this.timer !== undefined || !this.o.isLeader()) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.running !== undefined) { this.again = true; return }
      this.running = this.run().finally(() => {
        this.running = undefined
        if (this.again) { this.again = false; this.trigger() }
      })
    }, this.o.debounceMs)
  }

  private async run (): Promise<void> {
    if (!this.o.isLeader()) return
    const { tables, metrics, log } = this.o
    if (tables.assignments.revision < this.minRevision) { this.again = true; return }
    const t0 = performance.now()
    const now = Date.now()
    const result = schedule({
      specs: [...tables.services.entries.values()],
      hosts: [...tables.hosts.entries.values()],
      assignments: [...tables.assignments.entries.values()],
      now,
    })
    metrics.runSeconds.observe((performance.now() - t0) / 1000)
    metrics.runs.inc()
    metrics.unschedulable.set(result.unschedulable.length)
    metrics.failStatic.set(result.failStatic ? 1 : 0)
    this.last = result
    const desired = this.o.replacer?.apply(result.assignments, tables.services.entries.values(), now) ?? result.assignments
    const writes = diffAssignments(tables.assignments.entries, desired, this.revisions)
    if (writes.length === 0) return
    log.info({
      creates: writes.filter((w) => w.op === 'create').length,
      updates: writes.filter((w) => w.op === 'update').length,
      deletes: writes.filter((w) => w.op === 'delete').length,
      unschedulable: result.unschedulable.length,
      failStatic: result.failStatic,
    }, 'placement: writing assignments')
    await this.write(writes)
  }

  private async write (writes: AssignmentWrite[]): Promise<void> {
    const parallel = this.o.parallel ?? 32
    // Creates first (a moved replica starts before its old key goes), then the rest.
    const firstDelete = writes.findIndex((w) => w.op === 'delete')
    const phases = firstDelete < 0 ? [writes] : [writes.slice(0, firstDelete), writes.slice(firstDelete)]
    for (const phase of phases) {
      for (let i = 0; i < phase.length; i += parallel) {
        if (!this.o.isLeader()) return // deposed mid-way: the new leader finishes
        await Promise.all(phase.slice(i, i + parallel).map(async (w) => { await this.writeOne(w) }))
      }
    }
  }

  private async writeOne (w: AssignmentWrite): Promise<void> {
    const kv = this.o.assignmentsKv
    try {
      let rev: number | undefined
      if (w.op === 'create') rev = await kv.create(w.key, encodeJson(w.value))
      else if (w.op === 'update') rev = await kv.update(w.key, encodeJson(w.value), w.revision)
      else await kv.delete(w.key, { previousSeq: w.revision })
      if (rev !== undefined && rev > this.minRevision) this.minRevision = rev
      this.o.metrics.writes.inc({ op: w.op })
      this.o.log.debug({ key: w.key, op: w.op, rev }, 'assignment written')
    } catch (err) {
      if (!isConflict(err)) {
        this.o.log.warn({ key: w.key, op: w.op, err: (err as Error).message }, 'assignment write failed')
        this.again = true
        return
      }
      this.o.metrics.conflicts.inc()
      this.o.log.debug({ key: w.key, op: w.op, err: (err as Error).message }, 'assignment write conflict')
      // A create over a value the mirror ignored as invalid would conflict
      // forever: the leader owns this bucket, so overwrite it.
      if (w.op === 'create' && !this.o.tables.assignments.entries.has(w.key)) {
        await kv.put(w.key, encodeJson(w.value)).catch(() => {})
      }
      this.again = true
    }
  }

  /** Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    clearInterval(this.resync)
    this.o.tables.assignments.off('change', this.onAssignment)
    this.o.tables.hosts.off('change', this.onHost)
    this.o.tables.services.off('change', this.onService)
    await this.running
  }
}
