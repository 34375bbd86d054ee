// The autoscaler inside the placement leader: every interval, for each
// service with an `autoscale` block, gather its metrics, decide (pure, in
// decide.ts) and, when the count changes, write the spec's replicas through
// the same compare-and-set path as the API with a history entry (by
// `autoscaler`, why = the decision's reason). The placement loop then sees a
// new spec version and places the replicas like any scale. Each evaluation
// is kept in `driftgate_leases` `autoscale.<service>` for status and for the
// next leader; each change is one activity event.
import type { KV } from 'nats'
import {
  autoscaleStatusKey, autoscaleWindows, checkAutoscaleStatus,
  type AutoscaleStatusRecord, type Logger, type ServiceRecord, type ServiceSpec,
} from '../../core/index.js'
import { decodeJson, encodeJson, type ActivityEvent, type KvTable } from '../../bus/index.js'
import { writeSpec } from '../spec-store.js'
import { decideReplicas, type Recommendation } from './decide.js'
import type { CpuSource } from './cpu-source.js'
import type { ServiceLoad } from './service-load.js'
import type { AutoscaleMetrics } from './metrics.js'

export interface AutoscalerOptions {
  services: KvTable<ServiceRecord>
  kv: { services: KV, leases: KV, history?: KV }
  cpu: CpuSource
  /** Request rates per service; without it a requestsPerReplica target has no data (and never scales down). */
  load?: ServiceLoad
  isLeader: () => boolean
  /** Replicas of the service the scheduler could not place in its last run. */
  unschedulable: (service: string) => number
  intervalMs: number
  log: Logger
  metrics: AutoscaleMetrics
  /** Activity feed (the decisions that changed a count). */
  publish?: (event: ActivityEvent, id: string) => void
  now?: () => number
}

/** Thrown inside the CAS decision: the spec moved under us, decide again next round. */
class Moved extends Error {}

export class Autoscaler {
  private readonly recs = new Map<string, Recommendation[]>()
  private readonly status = new Map<string, AutoscaleStatusRecord>()
  private timer?: NodeJS.Timeout
  private running?: Promise<void>
  private leading = false
  private closed = false

  constructor (private readonly o: AutoscalerOptions) {}

  private now (): number { return (this.o.now ?? Date.now)() }

  start (): void {
    this.timer = setInterval(() => { void this.tick() }, this.o.intervalMs)
    this.timer.unref()
  }

  /** One round (also called by tests); a round already running is not doubled. */
  async tick (): Promise<void> {
    if (this.closed || this.running !== undefined) return await this.running
    this.running = this.round().catch((err: Error) => { this.o.log.warn({ err: err.message }, 'autoscaler round failed') })
      .finally(() => { this.running = undefined })
    await this.running
  }

  private async round (): Promise<void> {
    if (!this.o.isLeader()) { this.leading = false; return }
    if (!this.leading) { await this.resume(); this.leading = true }
    const live = new Set<string>()
    for (const rec of this.o.services.entries.values()) {
      if (rec.spec.autoscale === undefined) continue
      live.add(rec.spec.name)
      if (!this.o.isLeader()) return
      await this.evaluate(rec.spec)
    }
    for (const name of [...this.status.keys()]) if (!live.has(name)) await this.forget(name)
  }

  /** A new leader picks up the windows and the last change where the last one left them. */
  private async resume (): Promise<void> {
    this.recs.clear(); this.status.clear()
    for (const rec of this.o.services.entries.values()) {
      if (rec.spec.autoscale === undefined) continue
      const e = await this.o.kv.leases.get(autoscaleStatusKey(rec.spec.name)).catch(() => null)
      if (e == null || e.operation !== 'PUT') continue
      const d = decodeJson(e.value)
      if (!d.ok || checkAutoscaleStatus.problems(d.value) !== null) continue
      const s = d.value as AutoscaleStatusRecord
      this.status.set(s.service, s)
      this.recs.set(s.service, s.recommendations)
    }
  }

  private async evaluate (spec: ServiceSpec): Promise<void> {
    const a = spec.autoscale
    if (a === undefined) return
    const name = spec.name
    const now = this.now()
    const { upMs, downMs } = autoscaleWindows(a)
    const rate = a.requestsPerReplica !== undefined ? this.o.load?.rate(name) : undefined
    // A figure older than three rounds (or 30 s) is no figure: that metric then holds.
    const fresh = rate !== undefined && now - rate.at <= Math.max(3 * this.o.intervalMs, 30_000) ? rate.requestsPerSec : undefined
    const d = decideReplicas({
      now,
      current: spec.replicas,
      policy: { min: a.min, max: a.max, cpu: a.cpu, requestsPerReplica: a.requestsPerReplica, upMs, downMs },
      cpu: a.cpu !== undefined ? this.o.cpu.cpu(name, spec.replicas) : undefined,
      requestsPerSec: fresh,
      unschedulable: this.o.unschedulable(name),
      recommendations: this.recs.get(name) ?? [],
    })
    this.recs.set(name, d.recommendations)
    this.o.metrics.evaluations.inc({ action: d.action })
    let lastChange = this.status.get(name)?.lastChange
    if (d.desired !== spec.replicas) {
      const version = await this.write(name, spec.replicas, d.desired, d.reason)
      if (version !== null) {
        lastChange = { at: now, from: spec.replicas, to: d.desired, reason: d.reason }
        this.o.metrics.changes.inc({ direction: d.action })
        this.o.log.info({ service: name, from: spec.replicas, to: d.desired, version, reason: d.reason }, 'autoscale')
        this.o.publish?.({
          kind: 'autoscale', at: now, service: name,
          message: `autoscale: ${name} ${spec.replicas} → ${d.desired} replicas (${d.reason})`,
          data: { from: spec.replicas, to: d.desired, version, metrics: d.metrics },
        }, `as:${name}:${version}`)
      }
    }
    const status: AutoscaleStatusRecord = {
      v: 1, service: name, at: now, replicas: spec.replicas, desired: d.desired, action: d.action, reason: d.reason,
      min: a.min, max: a.max, metrics: d.metrics, recommendations: d.recommendations, ...(lastChange !== undefined ? { lastChange } : {}),
    }
    this.status.set(name, status)
    await this.o.kv.leases.put(autoscaleStatusKey(name), encodeJson(status))
      .catch((err: Error) => { this.o.log.debug({ service: name, err: err.message }, 'autoscale status not written') })
  }

  /** The new count through the spec store (CAS, history); the version written, or null when the spec moved on. */
  private async write (name: string, from: number, to: number, reason: string): Promise<number | null> {
    try {
      const r = await writeSpec(this.o.kv.services, name, (cur) => {
        // An operator's write (or the autoscale block removed) since this round read the spec: theirs wins.
        if (cur === null || cur.autoscale === undefined || cur.replicas !== from) throw new Moved()
        return { ...cur, replicas: to }
      }, this.o.now, this.o.kv.history !== undefined
        ? { kv: this.o.kv.history, meta: { by: 'autoscaler', reason: `autoscale ${from} → ${to}: ${reason}` } }
        : undefined)
      return r.changed ? r.version : null
    } catch (err) {
      if (err instanceof Moved) return null
      this.o.log.warn({ service: name, from, to, err: (err as Error).message }, 'autoscale write failed')
      return null
    }
  }

  private async forget (name: string): Promise<void> {
    this.status.delete(name); this.recs.delete(name)
    await this.o.kv.leases.delete(autoscaleStatusKey(name)).catch(() => {})
  }

  /** Idempotent. */
  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.running
  }
}
