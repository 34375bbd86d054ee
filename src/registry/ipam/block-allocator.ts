// Allocation in block-layout pools (issue 20). Each allocator instance leases
// a block (the lease lives in the block record, taken and renewed by the same
// compare-and-set that writes allocations), hands out its addresses, and moves
// to the next block when it is full. Leases only keep allocators apart so that
// their batched writes rarely collide; the block's revision is the guard, so
// an expired or stolen lease can never produce a duplicate.
import { ErrorCodes, blockKey, fnv1a, type AllocateRequest, type AllocationRecord, type BlockRecord } from '../../core/index.js'
import type { IpamMirror } from './mirror.js'
import type { PoolView } from './pool.js'
import type { Versioned } from './store.js'
import { reserve, sameOwner } from './state.js'
import type { BlockWriter } from './block-writer.js'
import { BlockUnavailable, allocateInBlock, allocateStatic, blockCapacity, blockKeyOf, blockRange, changeEntry, type BlockOp } from './blocks.js'

export interface BlockAllocatorDeps { writer: BlockWriter, mirror: IpamMirror, holder: string, leaseMs: number }

export class BlockAllocator {
  /** The block each pool currently allocates from on this instance. */
  private readonly current = new Map<string, number>()
  /** Allocations queued on a block and not yet written: counted as taken, so a burst spills over instead of bouncing. */
  private readonly pending = new Map<string, number>()
  /** Allocations sent into a peer's leased block (overflow), and ops that came back refused: block full, leased, fought over. */
  readonly stats = { overflow: 0, full: 0, leased: 0, gaveUp: 0 }
  constructor (private readonly d: BlockAllocatorDeps) {}

  async onBlock<T> (p: PoolView, ip: string, op: BlockOp<T>): Promise<T> {
    const { key, index } = blockKeyOf(p, ip)
    return await this.d.writer.run(p.record.name, index, key, op)
  }

  async allocate (p: PoolView, req: AllocateRequest): Promise<AllocationRecord | null> {
    const owner = { host: req.host, mac: req.mac }
    const mine = this.d.mirror.ownedBy(req.pool, req.host, req.mac)
    if (mine != null && mine.value.state !== 'quarantined') return mine.value
    if (mine != null) {
      // Its own quarantined address back to the same (host, MAC): see Allocator.allocateDynamic.
      const again = await this.onBlock(p, mine.value.ip, changeEntry(mine.value.ip, (cur) => {
        if (cur == null || !sameOwner(cur, req.host, req.mac)) return { value: null }
        if (cur.state !== 'quarantined') return { value: cur }
        const rec = reserve(req.pool, cur.ip, owner, Date.now())
        return { value: rec, record: rec }
      })).catch(() => null)
      if (again != null) return again
    }
    const tried = new Set<number>()
    for (;;) {
      const pick = this.pick(p, tried)
      if (pick == null) return null // exhausted
      const key = blockKey(p.record.name, pick.index)
      this.pending.set(key, (this.pending.get(key) ?? 0) + 1)
      if (pick.overflow) this.stats.overflow++
      try {
        return await this.d.writer.run(p.record.name, pick.index, key,
          allocateInBlock(p, { owner, holder: this.d.holder, leaseMs: this.d.leaseMs, overflow: pick.overflow }))
      } catch (err) {
        // Full, leased by a live peer, or fought over too long: another block will do.
        if (!(err instanceof BlockUnavailable) && (err as { code?: string }).code !== ErrorCodes.CONFLICT) throw err
        if (err instanceof BlockUnavailable) this.stats[err.why]++; else this.stats.gaveUp++
        tried.add(pick.index)
        if (this.current.get(p.record.name) === pick.index) this.current.delete(p.record.name)
      } finally {
        const n = (this.pending.get(key) ?? 1) - 1
        if (n > 0) this.pending.set(key, n); else this.pending.delete(key)
      }
    }
  }

  /**
   * The block to allocate from: the current one while it has room, else the
   * first block with room and no live peer lease, walking from an offset
   * hashed from this instance's id (peers start far apart); when every block
   * with room is leased by a live peer, one of those (overflow).
   */
  private pick (p: PoolView, tried: Set<number>): { index: number, overflow: boolean } | null {
    const name = p.record.name
    const cur = this.current.get(name)
    if (cur != null && !tried.has(cur) && this.room(p, cur) > 0) return { index: cur, overflow: false }
    const { first, last } = blockRange(p)
    const n = last - first + 1
    const offset = fnv1a(`${this.d.holder}|${name}`) % n
    const now = Date.now()
    let overflow: number | null = null
    for (let i = 0; i < n; i++) {
      const index = first + ((offset + i) % n)
      if (tried.has(index) || this.room(p, index) <= 0) continue
      const lease = this.block(name, index)?.value.lease
      if (lease == null || lease.holder === this.d.holder || lease.until <= now) {
        this.current.set(name, index)
        return { index, overflow: false }
      }
      overflow ??= index
    }
    return overflow == null ? null : { index: overflow, overflow: true }
  }

  private block (pool: string, index: number): Versioned<BlockRecord> | undefined {
    return this.d.writer.newest(blockKey(pool, index))
  }

  private room (p: PoolView, index: number): number {
    const key = blockKey(p.record.name, index)
    return blockCapacity(p, index) - (this.d.writer.newest(key)?.value.entries.length ?? 0) - (this.pending.get(key) ?? 0)
  }

  async allocateStatic (p: PoolView, req: AllocateRequest, ip: string): Promise<AllocationRecord> {
    return await this.onBlock(p, ip, allocateStatic(req.pool, ip, { host: req.host, mac: req.mac }))
  }
}
