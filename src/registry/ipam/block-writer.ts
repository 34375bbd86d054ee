// Coalesced compare-and-set writes of block records (issue 20). Requests for
// one block queue up while a write of that block is in flight; the next
// write applies all of them to the newest copy and commits them with ONE
// compare-and-set. Nobody is answered before that write is acknowledged (on
// a cluster: stored by a quorum), so an address given out is durable. A lost
// race re-reads the block and applies the whole batch again: every op decides
// on the state it will actually replace, so two allocators can never both
// commit the same address.
import { setTimeout as sleep } from 'node:timers/promises'
import { DriftgateError, ErrorCodes, type BlockRecord } from '../../core/index.js'
import type { Versioned } from './store.js'
import { fromDraft, toDraft, type BlockOp } from './blocks.js'

/** The compare-and-set store the writer needs (KV in production, a map in property tests). */
export interface BlockStore {
  get: (key: string) => Promise<Versioned<BlockRecord> | null>
  /** Revision, or null when the key exists already. */
  create: (key: string, value: BlockRecord) => Promise<number | null>
  /** Revision, or null when the key moved past `revision`. */
  update: (key: string, value: BlockRecord, revision: number) => Promise<number | null>
}

export interface BlockWriterStats { writes: number, ops: number, conflicts: number }

interface Pending { op: BlockOp<unknown>, resolve: (v: unknown) => void, reject: (e: unknown) => void }

const MAX_ATTEMPTS = 8

export class BlockWriter {
  private readonly queues = new Map<string, Pending[]>()
  private readonly busy = new Set<string>()
  /** Our own last write of each block: the mirror may not have seen it yet. */
  private readonly last = new Map<string, Versioned<BlockRecord>>()
  readonly stats: BlockWriterStats = { writes: 0, ops: 0, conflicts: 0 }

  constructor (
    private readonly store: BlockStore,
    /** The mirror's copy of a block, if any. */
    private readonly known: (key: string) => Versioned<BlockRecord> | undefined,
    private readonly onConflict: () => void = () => {},
    /** After each stored write, with the number of ops it carried. */
    private readonly onWrite: (ops: number) => void = () => {},
  ) {}

  /** The newest copy of the block this instance knows about (mirror or own write). */
  newest (key: string): Versioned<BlockRecord> | undefined {
    const a = this.last.get(key)
    const b = this.known(key)
    if (a == null) return b
    if (b == null) return a
    return b.revision >= a.revision ? b : a
  }

  /** Applies `op` to the block in the next batched write; resolves once that write is stored. */
  async run<T> (pool: string, index: number, key: string, op: BlockOp<T>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      let q = this.queues.get(key)
      if (q == null) this.queues.set(key, q = [])
      q.push({ op, resolve: resolve as (v: unknown) => void, reject })
      // Not busy: start after the current tick, so requests that arrive together go together.
      if (!this.busy.has(key)) { this.busy.add(key); setImmediate(() => { void this.drain(pool, index, key) }) }
    })
  }

  private async drain (pool: string, index: number, key: string): Promise<void> {
    try {
      for (;;) {
        const batch = this.queues.get(key) ?? []
        this.queues.delete(key)
        if (batch.length === 0) return
        await this.write(pool, index, key, batch)
      }
    } finally { this.busy.delete(key) }
  }

  private async write (pool: string, index: number, key: string, batch: Pending[]): Promise<void> {
    let base: Versioned<BlockRecord> | null | undefined = this.newest(key)
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        // Lost races: re-read; from the second on, after a random pause so racing writers fall out of step.
        if (attempt > 1) await sleep(Math.random() * 2 ** Math.min(attempt, 5))
        if (attempt > 0) base = await this.store.get(key)
        const draft = toDraft(pool, index, base?.value)
        const now = Date.now()
        const results = batch.map((p) => {
          try { return { ok: true as const, value: p.op(draft, now) } } catch (err) { return { ok: false as const, err } }
        })
        if (draft.dirty) {
          const rec = fromDraft(draft)
          const rev = base == null ? await this.store.create(key, rec) : await this.store.update(key, rec, base.revision)
          if (rev == null) { this.stats.conflicts++; this.onConflict(); continue }
          this.last.set(key, { value: rec, revision: rev })
          this.stats.writes++
          this.onWrite(batch.length)
        }
        this.stats.ops += batch.length
        batch.forEach((p, i) => { const r = results[i]; if (r.ok) p.resolve(r.value); else p.reject(r.err) })
        return
      }
      const err = new DriftgateError(ErrorCodes.CONFLICT, `ipam block ${key}: too many concurrent changes, try again`)
      for (const p of batch) p.reject(err)
    } catch (err) {
      // NATS unreachable or the like: nothing was committed for anyone in this batch.
      for (const p of batch) p.reject(err)
    }
  }
}
