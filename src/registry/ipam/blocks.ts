// Block layout arithmetic and the pure operations one batched write applies
// to a block (issue 20). A pool with `blockSize` is cut into blocks of that
// many addresses counted from its network address; every allocation of a
// block lives in that block's record. Each op reads and changes a draft of
// the block; it throws to refuse (only itself: the rest of the batch goes on).
import {
  DriftgateError, ErrorCodes, blockKey, intToIp, ipToInt, type AllocationRecord, type BlockLease, type BlockRecord, type IpamOwner,
} from '../../core/index.js'
import type { PoolView } from './pool.js'
import { reserve, sameOwner } from './state.js'

/** A block being changed by one batch. `dirty` tells the writer whether there is anything to write. */
export interface BlockDraft {
  pool: string
  index: number
  lease?: BlockLease
  entries: Map<string, AllocationRecord>
  dirty: boolean
}

export type BlockOp<T> = (d: BlockDraft, now: number) => T

export function toDraft (pool: string, index: number, rec: BlockRecord | null | undefined): BlockDraft {
  const entries = new Map<string, AllocationRecord>()
  for (const e of rec?.entries ?? []) entries.set(e.ip, e)
  return { pool, index, lease: rec?.lease, entries, dirty: false }
}

export function fromDraft (d: BlockDraft): BlockRecord {
  const entries = [...d.entries.values()].sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip))
  return { v: 1, pool: d.pool, index: d.index, ...(d.lease != null ? { lease: d.lease } : {}), entries }
}

export function blockSizeOf (p: PoolView): number { return p.record.blockSize ?? 0 }

export function blockIndexOf (p: PoolView, ip: number): number { return Math.floor((ip - p.cidr.network) / blockSizeOf(p)) }

export function blockKeyOf (p: PoolView, ip: string): { key: string, index: number } {
  const index = blockIndexOf(p, ipToInt(ip))
  return { key: blockKey(p.record.name, index), index }
}

/** The blocks that hold part of the range, first to last. */
export function blockRange (p: PoolView): { first: number, last: number } {
  return { first: blockIndexOf(p, p.start), last: blockIndexOf(p, p.end) }
}

/** Allocatable addresses of one block, lowest first. */
export function * blockAddresses (p: PoolView, index: number): Generator<number> {
  const lo = Math.max(p.start, p.cidr.network + index * blockSizeOf(p))
  const hi = Math.min(p.end, p.cidr.network + (index + 1) * blockSizeOf(p) - 1)
  for (let n = lo; n <= hi; n++) if (!p.excluded.has(n)) yield n
}

/** How many addresses of the block are allocatable (cached per pool view). */
const capacities = new WeakMap<PoolView, Map<number, number>>()
export function blockCapacity (p: PoolView, index: number): number {
  let m = capacities.get(p)
  if (m == null) capacities.set(p, m = new Map())
  let c = m.get(index)
  if (c == null) {
    c = 0
    for (const _ of blockAddresses(p, index)) c++
    m.set(index, c)
  }
  return c
}

/** A refusal that sends the allocator to another block (full, or leased by a live peer). */
export class BlockUnavailable extends Error {
  constructor (readonly why: 'full' | 'leased') { super(`block ${why}`) }
}

export interface AllocateInBlock {
  owner: IpamOwner
  /** This allocator's id: the lease it takes or renews. */
  holder: string
  leaseMs: number
  /** Every block with room is leased by a live peer: allocate anyway, leave the lease alone. */
  overflow: boolean
}

/**
 * Reserves the lowest free address of the block for the owner, or returns the
 * address the owner already holds there (a retried request, or two copies of
 * one request in the same batch).
 */
export function allocateInBlock (p: PoolView, a: AllocateInBlock): BlockOp<AllocationRecord> {
  return (d, now) => {
    for (const e of d.entries.values()) {
      if (sameOwner(e, a.owner.host, a.owner.mac) && e.state !== 'quarantined') return e
    }
    const peer = d.lease != null && d.lease.holder !== a.holder && d.lease.until > now
    if (peer && !a.overflow) throw new BlockUnavailable('leased')
    for (const n of blockAddresses(p, d.index)) {
      const ip = intToIp(n)
      if (d.entries.has(ip)) continue
      const rec = reserve(p.record.name, ip, a.owner, now)
      d.entries.set(ip, rec)
      if (!peer) d.lease = { holder: a.holder, until: now + a.leaseMs }
      d.dirty = true
      return rec
    }
    throw new BlockUnavailable('full')
  }
}

/** A requested (static) address: reserved for the owner, or refused when someone holds it. */
export function allocateStatic (pool: string, ip: string, owner: IpamOwner): BlockOp<AllocationRecord> {
  return (d, now) => {
    const cur = d.entries.get(ip)
    if (cur == null) {
      const rec = reserve(pool, ip, owner, now)
      d.entries.set(ip, rec)
      d.dirty = true
      return rec
    }
    if (sameOwner(cur, owner.host, owner.mac) && cur.state !== 'quarantined') return cur
    const who = cur.owner.container != null ? `container ${cur.owner.container.slice(0, 12)} on ` : ''
    throw new DriftgateError(ErrorCodes.IPAM_TAKEN,
      `requested address ${ip} is already in use in pool ${pool} (${cur.state}, ${who}host ${cur.owner.host}): choose another --ip or leave it out`)
  }
}

/** Replaces (or, with null, removes) one entry as `next` decides from the current one; undefined = leave it. */
export function changeEntry<T> (ip: string, next: (cur: AllocationRecord | undefined) => { value: T, record?: AllocationRecord | null }): BlockOp<T> {
  return (d) => {
    const r = next(d.entries.get(ip))
    if (r.record === null) { d.entries.delete(ip); d.dirty = true } else if (r.record !== undefined) { d.entries.set(ip, r.record); d.dirty = true }
    return r.value
  }
}
