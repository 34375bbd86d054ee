// Applies IngestEvents to driftgate_endpoints: decide() on the cached record,
// then a CAS write against the revision it decided on; a lost race re-reads
// and decides again. Same key in series, different keys in parallel.
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

export class EndpointApplier {
  readonly serializer = new KeyedSerializer()
  private readonly now: () => number

  constructor (private readonly opts: ApplierOptions) {
    this.now = opts.now ?? Date.now
  }

  apply (ev: IngestEvent): Promise<Decision> {
    return this.serializer.run(keyOf(ev), async () => await this.applyNow(ev))
  }

  private async applyNow (ev: IngestEvent): Promise<Decision> {
    const key = keyOf(ev)
    const { store, metrics } = this.opts
    let cur = store.get(key)
    for (let attempt = 1; ; attempt++) {
      const decision = decide(cur?.value ?? null, ev, this.now())
      if (decision.action === 'ignore') {
        metrics.staleEvents.inc({ reason: decision.reason })
        return decision
      }
      try {
        await store.write(key, decision.record as EndpointRecord, cur?.revision ?? 0)
        metrics.eventsApplied.inc({ kind: decision.action, source: ev.source })
        return decision
      } catch (err) {
        if (!isCasConflict(err)) throw err
        metrics.writeConflicts.inc()
        if (attempt >= MAX_ATTEMPTS) throw new ConflictError(`endpoint ${key}: gave up after ${attempt} lost compare-and-set writes`)
        if (attempt > FREE_RETRIES) await pause(backoffDelay(attempt - FREE_RETRIES, BACKOFF))
        cur = await store.refresh(key)
      }
    }
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
