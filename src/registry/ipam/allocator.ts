// The allocator's request handlers: pool lookup, allocate, bind, release.
// Every write is a KV compare-and-set; a lost race on allocate moves on to
// the next candidate, a lost race on bind/release re-reads and retries.
import type { KV } from 'nats'
import {
  DriftgateError, ErrorCodes, NotFoundError, addressKey, type AllocateRequest, type AllocationRecord, type BindRequest, type IpamReply, type PoolQuery, type ReleaseRequest, fnv1a, ipToInt, contains,
} from '../../core/index.js'
import { casCreate, casUpdate, getAllocation, getPool } from './store.js'
import { candidates, checkStatic, viewPool, type PoolView } from './pool.js'
import { bind, release, reserve, sameOwner, type Transition } from './state.js'
import type { IpamMirror } from './mirror.js'
import type { AllocatorMetrics } from './metrics.js'
import type { BlockAllocator } from './block-allocator.js'
import { changeEntry } from './blocks.js'

const UPDATE_RETRIES = 8

export interface AllocatorDeps {
  kv: KV
  mirror: IpamMirror
  metrics: AllocatorMetrics
  quarantineMs: number
  /** Pools with a block size allocate through this (batched block writes). */
  blocks: BlockAllocator
}

export class Allocator {
  /** Keys this instance is trying right now: concurrent requests here never race each other. */
  private readonly trying = new Set<string>()
  private readonly walking = new Map<string, Promise<IpamReply>>()
  constructor (private readonly d: AllocatorDeps) {}

  private async pool (name: string): Promise<PoolView> {
    const cached = this.d.mirror.pools.get(name)
    if (cached != null) return cached
    const rec = await getPool(this.d.kv, `pool.${name}`) // just created: the mirror may lag
    if (rec == null) throw new DriftgateError(ErrorCodes.NOT_FOUND, `ipam pool "${name}" not found: create it with: driftgate ipam pool add ${name} --subnet <cidr>`)
    return viewPool(rec.value)
  }

  private answer (p: PoolView, r: AllocationRecord): IpamReply {
    return { ok: true, ip: r.ip, prefix: p.cidr.prefix, gateway: p.record.gateway, record: r }
  }

  async poolQuery (q: PoolQuery): Promise<IpamReply> {
    let p: PoolView | undefined
    if (q.pool != null) p = await this.pool(q.pool)
    else if (q.subnet != null) p = this.d.mirror.poolBySubnet(q.subnet)
    if (p == null) {
      throw new DriftgateError(ErrorCodes.NOT_FOUND,
        `no ipam pool has subnet ${q.subnet ?? '(none)'}: create one with: driftgate ipam pool add <name> --subnet ${q.subnet ?? '<cidr>'}`)
    }
    return { ok: true, pool: p.record, prefix: p.cidr.prefix, gateway: p.record.gateway }
  }

  async allocate (req: AllocateRequest): Promise<IpamReply> {
    const p = await this.pool(req.pool)
    if (req.ip != null) return await this.allocateStatic(p, req, req.ip)
    // Two copies of one request on this instance (a retry after a slow answer) share one walk.
    const owner = `${req.pool}|${req.host}|${req.mac}`
    const running = this.walking.get(owner)
    if (running != null) return await running
    const walk = this.allocateDynamic(p, req)
    this.walking.set(owner, walk)
    try { return await walk } finally { this.walking.delete(owner) }
  }

  /**
   * Walks the pool from an offset hashed from (host, MAC): different owners
   * start far apart (few races), while a retried request — on any instance —
   * walks the same order, meets the address its first attempt took, sees
   * itself as the owner and gets that address back instead of a second one.
   */
  private async allocateDynamic (p: PoolView, req: AllocateRequest): Promise<IpamReply> {
    if (p.record.blockSize != null) {
      const rec = await this.d.blocks.allocate(p, req)
      if (rec == null) throw this.exhausted(p)
      return this.answer(p, rec)
    }
    const mine = this.d.mirror.ownedBy(req.pool, req.host, req.mac)
    if (mine != null && mine.value.state !== 'quarantined') return this.answer(p, mine.value)
    if (mine != null) {
      // Its own quarantined address, back to the same (host, MAC): quarantine
      // guards against peers' ARP caches holding the previous MAC, and here
      // the MAC is the same. So an agent restarted within the quarantine
      // keeps its MacVLAN shim's address (issue 19), which replicas have as
      // their resolver. A lost race walks on as usual.
      const rec = reserve(req.pool, mine.value.ip, { host: req.host, mac: req.mac }, Date.now())
      if (await casUpdate(this.d.kv, addressKey(req.pool, mine.value.ip), rec, mine.revision) != null) return this.answer(p, rec)
      this.d.metrics.conflicts.inc({ op: 'allocate' })
    }
    for (const ip of candidates(p, fnv1a(`${req.host}|${req.mac}`))) {
      const key = addressKey(req.pool, ip)
      if (this.d.mirror.allocations.has(key) || this.trying.has(key)) continue
      this.trying.add(key)
      try {
        const rec = reserve(req.pool, ip, { host: req.host, mac: req.mac }, Date.now())
        if (await casCreate(this.d.kv, key, rec) != null) return this.answer(p, rec)
        this.d.metrics.conflicts.inc({ op: 'allocate' })
        const cur = await getAllocation(this.d.kv, key)
        if (cur != null && sameOwner(cur.value, req.host, req.mac) && cur.value.state !== 'quarantined') return this.answer(p, cur.value)
      } finally { this.trying.delete(key) }
    }
    throw this.exhausted(p)
  }

  private exhausted (p: PoolView): DriftgateError {
    const prefix = `${p.record.name}.`
    let q = 0
    let oldest = Infinity
    for (const [k, a] of this.d.mirror.allocations) {
      if (k.startsWith(prefix) && a.value.state === 'quarantined') { q++; oldest = Math.min(oldest, a.value.since) }
    }
    const wait = q > 0 ? `; ${q} in quarantine, the first free again in ~${Math.max(0, Math.ceil((oldest + this.d.quarantineMs - Date.now()) / 1000))} s` : ''
    return new DriftgateError(ErrorCodes.IPAM_EXHAUSTED,
      `ipam pool ${p.record.name} is exhausted: all ${p.size} addresses of ${p.record.start}-${p.record.end} are reserved, bound or quarantined${wait}`)
  }

  private async allocateStatic (p: PoolView, req: AllocateRequest, ip: string): Promise<IpamReply> {
    const ok = checkStatic(p, ip)
    if (!ok.ok) throw new DriftgateError(ErrorCodes.IPAM, `requested address refused: ${ok.reason}`)
    if (p.record.blockSize != null) return this.answer(p, await this.d.blocks.allocateStatic(p, req, ip))
    const key = addressKey(req.pool, ip)
    for (let i = 0; i < UPDATE_RETRIES; i++) {
      const rec = reserve(req.pool, ip, { host: req.host, mac: req.mac }, Date.now())
      if (await casCreate(this.d.kv, key, rec) != null) return this.answer(p, rec)
      const cur = await getAllocation(this.d.kv, key)
      if (cur == null) {
        const raw = await this.d.kv.get(key)
        if (raw?.operation === 'PUT') {
          throw new DriftgateError(ErrorCodes.IPAM_TAKEN, `requested address ${ip} holds an unreadable KV record (${key}); it stays taken until an operator fixes it`)
        }
        continue // freed in between: try again
      }
      if (sameOwner(cur.value, req.host, req.mac) && cur.value.state !== 'quarantined') return this.answer(p, cur.value)
      const who = cur.value.owner.container != null ? `container ${cur.value.owner.container.slice(0, 12)} on ` : ''
      throw new DriftgateError(ErrorCodes.IPAM_TAKEN,
        `requested address ${ip} is already in use in pool ${req.pool} (${cur.value.state}, ${who}host ${cur.value.owner.host}): choose another --ip or leave it out`)
    }
    throw new DriftgateError(ErrorCodes.CONFLICT, `requested address ${ip}: too many concurrent changes, try again`)
  }

  private poolOf (ip: string): string {
    const n = ipToInt(ip)
    for (const p of this.d.mirror.pools.values()) if (contains(p.cidr, n)) return p.record.name
    throw new NotFoundError(`ipam pool containing ${ip}`)
  }

  async bind (req: BindRequest): Promise<IpamReply> {
    const pool = req.pool ?? this.poolOf(req.ip)
    return await this.transition('bind', addressKey(pool, req.ip), req.ip,
      (r) => bind(r, req.host, req.mac, req.containerId, Date.now()), false)
  }

  async release (req: ReleaseRequest): Promise<IpamReply> {
    return await this.transition('release', addressKey(req.pool, req.ip), req.ip,
      (r) => release(r, req, Date.now()), true)
  }

  /** Read, decide, compare-and-set; re-read on a lost race. */
  private async transition (op: string, key: string, ip: string, decide: (r: AllocationRecord) => Transition, absentOk: boolean): Promise<IpamReply> {
    const pool = this.d.mirror.pools.get(key.slice(0, key.indexOf('.')))
    if (pool?.record.blockSize != null) return await this.blockTransition(pool, ip, decide, absentOk)
    for (let i = 0; i < UPDATE_RETRIES; i++) {
      const cur = await getAllocation(this.d.kv, key)
      if (cur == null) {
        if (absentOk) return { ok: true, noop: true }
        throw new NotFoundError(`allocation of ${ip}`)
      }
      const t = decide(cur.value)
      if (!t.ok) throw new DriftgateError(t.code === 'not_owner' ? ErrorCodes.IPAM_NOT_OWNER : ErrorCodes.IPAM, t.error)
      if (t.noop === true || t.next == null) return { ok: true, noop: true, record: cur.value }
      if (await casUpdate(this.d.kv, key, t.next, cur.revision) != null) return { ok: true, record: t.next }
      this.d.metrics.conflicts.inc({ op })
    }
    throw new DriftgateError(ErrorCodes.CONFLICT, `${op} ${ip}: too many concurrent changes, try again`)
  }

  /** The same decision inside the block's next batched write. */
  private async blockTransition (p: PoolView, ip: string, decide: (r: AllocationRecord) => Transition, absentOk: boolean): Promise<IpamReply> {
    return await this.d.blocks.onBlock(p, ip, changeEntry<IpamReply>(ip, (cur) => {
      if (cur == null) {
        if (absentOk) return { value: { ok: true, noop: true } }
        throw new NotFoundError(`allocation of ${ip}`)
      }
      const t = decide(cur)
      if (!t.ok) throw new DriftgateError(t.code === 'not_owner' ? ErrorCodes.IPAM_NOT_OWNER : ErrorCodes.IPAM, t.error)
      if (t.noop === true || t.next == null) return { value: { ok: true, noop: true, record: cur } }
      return { value: { ok: true, record: t.next }, record: t.next }
    }))
  }
}
