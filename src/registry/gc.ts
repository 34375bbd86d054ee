// Tombstone garbage collection: a tombstone only has to outlive the events
// that could still arrive late for its container. After `ttlMs` it is deleted
// with a CAS delete, so a container re-created meanwhile is never touched.
import type { EndpointRecord, Logger } from '../core/index.js'
import type { Versioned } from './store.js'
import type { EndpointApplier } from './applier.js'

/** Pure: the tombstones old enough to delete, with the revision to delete at. */
export function expiredTombstones (entries: Iterable<[string, Versioned<EndpointRecord>]>, now: number, ttlMs: number): Array<{ key: string, revision: number }> {
  const out: Array<{ key: string, revision: number }> = []
  for (const [key, v] of entries) {
    if (v.value?.removed === true && now - v.value.updatedAt > ttlMs) out.push({ key, revision: v.revision })
  }
  return out
}

export class TombstoneGc {
  private timer?: NodeJS.Timeout
  private running?: Promise<void>

  constructor (private readonly opts: {
    entries: () => Iterable<[string, Versioned<EndpointRecord>]>
    applier: EndpointApplier
    ttlMs: number
    log: Logger
    now?: () => number
  }) {}

  start (): void {
    // Check a few times per TTL; at least every minute.
    const every = Math.max(1000, Math.min(60_000, Math.floor(this.opts.ttlMs / 4)))
    this.timer = setInterval(() => { if (this.running == null) this.running = this.run().finally(() => { this.running = undefined }) }, every)
    this.timer.unref()
  }

  async run (): Promise<void> {
    const now = (this.opts.now ?? Date.now)()
    const expired = expiredTombstones(this.opts.entries(), now, this.opts.ttlMs)
    let deleted = 0
    for (const { key, revision } of expired) {
      try {
        if (await this.opts.applier.collect(key, revision)) deleted++
      } catch (err) {
        this.opts.log.warn({ key, err: (err as Error).message }, 'tombstone gc failed')
      }
    }
    if (deleted > 0) this.opts.log.debug({ deleted }, 'tombstones collected')
  }

  async close (): Promise<void> {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }
}
