// An in-memory mirror of `driftgate_ipam` with revisions and two indexes
// (owner → key, host → keys). It only steers choices — which address to try
// first, which records a snapshot concerns; correctness comes from the
// compare-and-set writes, so a mirror a few milliseconds behind is harmless.
import type { KV, KvEntry, QueuedIterator } from 'nats'
import { addressKey, backoffDelay, checkAllocationRecord, checkBlockEnvelope, parseBlockKey, type AllocationRecord, type BlockRecord, type Logger, type PoolRecord } from '../../core/index.js'
import { decodeJson, followNodeChanges, retrying } from '../../bus/index.js'
import { decodeAllocation, decodePool, type Versioned } from './store.js'
import { viewPool, type PoolView } from './pool.js'

/** Same content (the record's fields are flat but for the owner). */
function sameEntry (a: AllocationRecord, b: AllocationRecord): boolean {
  return a.state === b.state && a.since === b.since && a.missed === b.missed && a.reason === b.reason &&
    a.owner.host === b.owner.host && a.owner.mac === b.owner.mac && a.owner.container === b.owner.container
}

const keyCount = (o: object): number => Object.keys(o).length

/**
 * A block record as validated as `checkBlockRecord` would, but an entry equal
 * to the one in the previous copy (same fields, nothing extra) is not checked
 * again and its validated object is reused: a write changes a few of a
 * block's many entries, and checking all of them on every write in every
 * mirror cost more than the write saved.
 */
export function decodeBlockAgainst (data: Uint8Array, prev: BlockRecord | undefined): BlockRecord | null {
  const d = decodeJson(data)
  if (!d.ok || checkBlockEnvelope.problems(d.value) != null) return null
  const rec = d.value as BlockRecord
  const old = new Map((prev?.entries ?? []).map((e) => [e.ip, e]))
  for (let i = 0; i < rec.entries.length; i++) {
    const e = rec.entries[i] as AllocationRecord | null
    const o = typeof e?.ip === 'string' ? old.get(e.ip) : undefined
    if (o != null && e != null && typeof e.owner === 'object' && e.owner != null && e.v === o.v && e.pool === o.pool &&
      sameEntry(o, e) && keyCount(e) === keyCount(o) && keyCount(e.owner) === keyCount(o.owner)) {
      rec.entries[i] = o
      continue
    }
    if (checkAllocationRecord.problems(e) != null) return null
  }
  return rec
}

const ownerKey = (pool: string, host: string, mac: string): string => `${pool}|${host}|${mac}`

export class IpamMirror {
  readonly pools = new Map<string, PoolView>()
  readonly allocations = new Map<string, Versioned<AllocationRecord>>()
  private readonly byOwner = new Map<string, string>()
  private readonly byHost = new Map<string, Set<string>>()
  /** Block records (pools with a block size); their entries also appear in `allocations` under their address keys. */
  readonly blocks = new Map<string, Versioned<BlockRecord>>()
  /** Address key → the block key that holds it. */
  private readonly inBlock = new Map<string, string>()
  private iter?: QueuedIterator<KvEntry>
  private loop?: Promise<void>
  private closed = false
  private changes?: { stop: () => void }

  constructor (private readonly kv: KV, private readonly log: Logger, private readonly onInvalid?: (key: string) => void) {}

  /** Entries whose handling threw, and watches that ended and were reopened. */
  readonly faults = { entries: 0, rewatches: 0 }

  /** Resolves once the bucket's current content is loaded. */
  async start (): Promise<void> {
    await this.watchFrom(0)
    // A killed server can hold the watch's consumer: reopen on a reconnect or membership change (bus/node-changes.ts).
    if (!this.closed) this.changes = followNodeChanges(this.kv, () => { this.iter?.stop() })
  }

  /**
   * One watch; when it ends while the mirror is open (a listener threw, NATS
   * dropped the consumer) a new one starts after a backoff, from the start of
   * the bucket's history (the apply is idempotent per revision): a mirror that
   * silently stopped would steer every later choice by stale data.
   */
  private async watchFrom (attempt: number): Promise<void> {
    let initialized = false
    let sawLast = false
    let ready!: () => void
    const loaded = new Promise<void>((resolve) => { ready = resolve })
    // A busy server's TIMEOUT on opening the watch is retried (bus/retry.ts), not fatal to the registry's start.
    const iter = await retrying('watch ipam', async () => await this.kv.watch({
      key: '>',
      // May run inside watch() itself, before `iter` exists (empty bucket).
      initializedFn: () => { initialized = true; if (sawLast) ready() },
    }), { log: this.log, closed: () => this.closed })
    this.iter = iter
    if (initialized && iter.getReceived() === 0) ready()
    this.loop = (async () => {
      try {
        for await (const e of iter) {
          try {
            this.apply(e)
          } catch (err) {
            this.faults.entries++
            this.log.error({ key: e.key, revision: e.revision, err: (err as Error).message }, 'ipam mirror: entry not applied')
          }
          if (e.delta === 0 && !sawLast) { sawLast = true; if (initialized) ready() }
        }
      } catch (err) {
        if (!this.closed) this.log.error({ err }, 'ipam kv watch ended')
      }
      ready()
      if (!this.closed) {
        this.faults.rewatches++
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt + 1, { baseMs: 250, maxMs: 5000 })))
        if (!this.closed) await this.watchFrom(attempt + 1).catch((err: Error) => { this.log.error({ err: err.message }, 'ipam kv re-watch failed') })
      }
    })()
    await loaded
  }

  private apply (e: KvEntry): void {
    if (e.key.startsWith('pool.')) {
      const name = e.key.slice(5)
      const p = e.operation === 'PUT' ? decodePool(e.value) : null
      if (p != null) this.pools.set(name, viewPool(p))
      else {
        if (e.operation === 'PUT') this.onInvalid?.(e.key)
        this.pools.delete(name)
      }
      return
    }
    const block = parseBlockKey(e.key)
    if (block != null) { this.applyBlock(e, block.pool); return }
    this.unindex(e.key)
    if (e.operation !== 'PUT') return
    const value = decodeAllocation(e.value)
    if (value == null) { this.onInvalid?.(e.key); return }
    this.index(e.key, value, e.revision)
  }

  /** A block record replaces every entry of the block at once. */
  private applyBlock (e: KvEntry, pool: string): void {
    const old = this.blocks.get(e.key)
    const rec = e.operation === 'PUT' ? decodeBlockAgainst(e.value, old?.value) : null
    const valid = rec != null && rec.pool === pool
    if (e.operation === 'PUT' && !valid) this.onInvalid?.(e.key)
    // Only entries that changed are re-indexed: one write changes a few of a block's many.
    const next = new Map<string, AllocationRecord>()
    if (valid) for (const a of rec.entries) if (a.pool === pool) next.set(a.ip, a) // never trusted outside its own pool
    for (const a of old?.value.entries ?? []) {
      const key = addressKey(pool, a.ip)
      const n = next.get(a.ip)
      const held = this.allocations.get(key)
      if (n != null && held != null && sameEntry(held.value, n)) { held.revision = e.revision; next.delete(a.ip) } else this.unindex(key)
    }
    if (valid) this.blocks.set(e.key, { value: rec, revision: e.revision }); else this.blocks.delete(e.key)
    for (const a of next.values()) {
      const key = addressKey(pool, a.ip)
      this.unindex(key)
      this.index(key, a, e.revision)
      this.inBlock.set(key, e.key)
    }
  }

  private index (key: string, value: AllocationRecord, revision: number): void {
    this.allocations.set(key, { value, revision })
    this.byOwner.set(ownerKey(value.pool, value.owner.host, value.owner.mac), key)
    let keys = this.byHost.get(value.owner.host)
    if (keys == null) this.byHost.set(value.owner.host, keys = new Set())
    keys.add(key)
  }

  /** The block key holding this address key, when its pool has the block layout. */
  blockOf (key: string): string | undefined { return this.inBlock.get(key) }

  private unindex (key: string): void {
    const old = this.allocations.get(key)
    if (old == null) return
    this.allocations.delete(key)
    this.inBlock.delete(key)
    const ok = ownerKey(old.value.pool, old.value.owner.host, old.value.owner.mac)
    if (this.byOwner.get(ok) === key) this.byOwner.delete(ok)
    this.byHost.get(old.value.owner.host)?.delete(key)
  }

  /** The allocation of this endpoint (pool, host, MAC), if any. */
  ownedBy (pool: string, host: string, mac: string): Versioned<AllocationRecord> | undefined {
    const key = this.byOwner.get(ownerKey(pool, host, mac))
    return key == null ? undefined : this.allocations.get(key)
  }

  /** Keys of every allocation owned by a host. */
  hostKeys (host: string): string[] { return [...(this.byHost.get(host) ?? [])] }

  hosts (): string[] { return [...this.byHost.keys()].filter((h) => (this.byHost.get(h)?.size ?? 0) > 0) }

  poolBySubnet (subnet: string): PoolView | undefined {
    for (const p of this.pools.values()) if (p.record.subnet === subnet) return p
    return undefined
  }

  poolRecords (): PoolRecord[] { return [...this.pools.values()].map((p) => p.record) }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.changes?.stop()
    this.iter?.stop()
    await this.loop
  }
}
