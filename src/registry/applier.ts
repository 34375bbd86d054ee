// Applies IngestEvents to driftgate_endpoints: decide() on the cached record,
// then a CAS write against the revision it decided on; a lost race re-reads
// and decides again. Same key in series (changes queued behind a write are
// folded into one next write), different keys in parallel.
import { backoffDelay, ConflictError, type EndpointRecord, type Logger } from '../core/index.js'
import { decide, keyOf, type Decision, type IngestEvent } from './decide.js'
import { KeyedSerializer } from './serializer.js'
import { isCasConflict, type VersionedStore } from './store.js'
import type { RegistryMetrics } from './metrics.js'
import { setTimeout as pause } from 'node:timers/promises'

// A writer that keeps winning (another instance applying a burst of the same
// container's events) can make us lose many times in a row: after the first
// few losses we step aside with a jittered, growing pause (1, 2, 4 … 50 ms)
// so its burst ends; 40 attempts span about 1.5 s.
const MAX_ATTEMPTS = 40
const FREE_RETRIES = 3
const BACKOFF = { baseMs: 1, maxMs: 50, jitter: 0.5 }

export interface ApplierOptions {
  store: VersionedStore<EndpointRecord>
  metrics: RegistryMetrics
  log: Logger
  now?: () => number
}

interface Pending { ev: IngestEvent, resolve: (d: Decision) => void, reject: (err: unknown) => void }

export class EndpointApplier {
  readonly serializer = new KeyedSerializer()
  private readonly now: () => number
  /** Per key: changes that arrived while a write of that key was in flight. */
  private readonly pending = new Map<string, Pending[]>()
  /** Per host: keys with a change not yet settled, and how many (see keysInFlight). */
  private readonly inFlight = new Map<string, Map<string, number>>()

  constructor (private readonly opts: ApplierOptions) {
    this.now = opts.now ?? Date.now
  }

  /**
   * Changes of one key apply in arrival order. Those that arrive while a write
   * of the key is in flight are folded into ONE next write (decide() over each
   * in turn, the last record written): the same end state as one write each,
   * without a KV round trip per change (a backlog or a burst of one container).
   */
  apply (ev: IngestEvent): Promise<Decision> {
    const key = keyOf(ev)
    this.track(ev.host, key, 1)
    return new Promise<Decision>((resolve, reject) => {
      const p: Pending = { ev, resolve, reject }
      const queued = this.pending.get(key)
      if (queued != null) { queued.push(p); return }
      this.pending.set(key, [p])
      void this.serializer.run(key, async () => {
        const batch = this.pending.get(key) ?? []
        this.pending.delete(key)
        try {
          const decisions = await this.applyNow(key, batch.map((p) => p.ev))
          batch.forEach((p, i) => { this.track(p.ev.host, key, -1); p.resolve(decisions[i]) })
        } catch (err) {
          for (const p of batch) { this.track(p.ev.host, key, -1); p.reject(err) }
        }
      })
    })
  }

  /**
   * Keys of `host` with a change handed to apply() and not yet settled
   * (queued or being written). A snapshot removes what it no longer lists
   * among these too: the table does not hold them yet, and an older upsert
   * landing after the snapshot's diff would otherwise stay live until the
   * host's next snapshot. The remove queues behind it on the key, and
   * decide() keeps whichever is newer.
   */
  keysInFlight (host: string): Iterable<string> {
    return this.inFlight.get(host)?.keys() ?? []
  }

  private track (host: string, key: string, n: 1 | -1): void {
    let keys = this.inFlight.get(host)
    if (keys == null) this.inFlight.set(host, keys = new Map())
    const left = (keys.get(key) ?? 0) + n
    if (left > 0) keys.set(key, left)
    else {
      keys.delete(key)
      if (keys.size === 0) this.inFlight.delete(host)
    }
  }

  /** decide() over the changes in order; one CAS write of the final record if any of them writes. */
  private fold (cur: EndpointRecord | null, evs: IngestEvent[], now: number): { decisions: Decision[], record?: EndpointRecord } {
    let state = cur
    let record: EndpointRecord | undefined
    const decisions = evs.map((ev) => {
      const d = decide(state, ev, now)
      if (d.action !== 'ignore') state = record = d.record as EndpointRecord
      return d
    })
    return { decisions, record }
  }

  private async applyNow (key: string, evs: IngestEvent[]): Promise<Decision[]> {
    const { store, metrics } = this.opts
    let cur = store.get(key)
    for (let attempt = 1; ; attempt++) {
      const { decisions, record } = this.fold(cur?.value ?? null, evs, this.now())
      try {
        if (record != null) await store.write(key, record, cur?.revision ?? 0)
        this.count(evs, decisions)
        return decisions
      } catch (err) {
        if (!isCasConflict(err)) throw err
        metrics.writeConflicts.inc()
        if (attempt >= MAX_ATTEMPTS) throw new ConflictError(`endpoint ${key}: gave up after ${attempt} lost compare-and-set writes`)
        if (attempt > FREE_RETRIES) await pause(backoffDelay(attempt - FREE_RETRIES, BACKOFF))
        cur = await store.refresh(key)
      }
    }
  }

  private count (evs: IngestEvent[], decisions: Decision[]): void {
    const { metrics } = this.opts
    let writes = 0
    decisions.forEach((d, i) => {
      if (d.action === 'ignore') { metrics.staleEvents.inc({ reason: d.reason }); return }
      metrics.eventsApplied.inc({ kind: d.action, source: evs[i].source })
      writes++
    })
    if (writes > 1) metrics.coalescedEvents.inc(writes - 1)
  }

  /** Tombstone GC: deletes `key` only if it is still the tombstone at `revision`. */
  async collect (key: string, revision: number): Promise<boolean> {
    return await this.serializer.run(key, async () => {
      try {
        await this.opts.store.remove(key, revision)
        return true
      } catch (err) {
        if (isCasConflict(err)) return false
        throw err
      }
    })
  }
}
