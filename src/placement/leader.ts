// One placement leader at a time: a lease in `driftgate_leases` `placement`,
// taken and renewed with compare-and-set on the KV revision.
//
// nats-server 2.9 has no per-key TTL, so the expiry is in the value — but no
// contender trusts another machine's clock with it. A contender takes over
// when it has seen the *same revision* for a whole lease on its own monotonic
// clock; the leader renews every lease/3 and stops acting at
// (send time of its last successful renewal + lease − lease/6), which is
// always before any contender can have waited a full lease since seeing that
// renewal. The wall-clock `expiresAt` in the value is for humans and tools.
import type { KV } from 'nats'
import { checkLeaseRecord, type LeaseRecord, type Logger } from '../core/index.js'
import { decodeJson, encodeJson } from '../bus/index.js'

export const LEASE_KEY = 'placement'

export interface LeaseOptions {
  kv: KV
  /** Unique per process: who holds the lease (shown in status). */
  holder: string
  leaseMs: number
  log: Logger
  onChange: (leader: boolean) => void
  key?: string
  /** Monotonic milliseconds (tests may drive it). */
  mono?: () => number
  wall?: () => number
}

export interface LeaseView { holder: string | null, expiresAt: number | null, revision: number }

export class Lease {
  private leader = false
  private revision = 0
  private acquiredAt = 0
  private validUntil = 0
  private seen?: { revision: number, at: number }
  private timer?: NodeJS.Timeout
  private ticking?: Promise<void>
  private closed = false
  private readonly key: string
  private readonly mono: () => number
  private readonly wall: () => number
  readonly renewMs: number
  readonly pollMs: number

  constructor (private readonly o: LeaseOptions) {
    this.key = o.key ?? LEASE_KEY
    this.mono = o.mono ?? (() => performance.now())
    this.wall = o.wall ?? Date.now
    this.renewMs = Math.max(10, Math.floor(o.leaseMs / 3))
    // Contenders look more often than the leader renews, so a takeover lands
    // soon after the lease runs out.
    this.pollMs = Math.max(10, Math.min(this.renewMs, 1000))
  }

  start (): void { this.schedule(0) }

  /** True only while this process holds an unexpired lease. */
  isLeader (): boolean { return this.leader && this.mono() < this.validUntil }

  private schedule (ms: number): void {
    if (this.closed) return
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => { this.ticking = undefined; this.schedule(this.leader ? this.renewMs : this.pollMs) })
    }, ms)
  }

  private async tick (): Promise<void> {
    try {
      if (this.leader) await this.renew(); else await this.contend()
    } catch (err) {
      this.o.log.warn({ lease: this.key, err: (err as Error).message, leader: this.leader }, 'lease: kv request failed')
    }
    if (this.leader && this.mono() >= this.validUntil) this.setLeader(false, 'lease could not be renewed in time')
  }

  private value (now: number): Uint8Array {
    const rec: LeaseRecord = { v: 1, holder: this.o.holder, expiresAt: now + this.o.leaseMs, acquiredAt: this.acquiredAt || now, renewedAt: now }
    return encodeJson(rec)
  }

  private async renew (): Promise<void> {
    const sent = this.mono()
    try {
      this.revision = await this.o.kv.update(this.key, this.value(this.wall()), this.revision)
      this.validUntil = sent + this.o.leaseMs - Math.floor(this.renewMs / 2)
    } catch (err) {
      // A revision mismatch means someone else wrote the lease: step down now.
      if (isConflict(err)) this.setLeader(false, 'lease taken by another instance')
      else throw err
    }
  }

  private async contend (): Promise<void> {
    const sent = this.mono()
    const e = await this.o.kv.get(this.key)
    if (e == null || e.operation !== 'PUT') {
      await this.acquire(sent, async (v) => await this.o.kv.create(this.key, v))
      return
    }
    const holder = holderOf(e.value)
    if (holder === this.o.holder) { // our own lease from before a reconnect
      await this.acquire(sent, async (v) => await this.o.kv.update(this.key, v, e.revision))
      return
    }
    if (this.seen?.revision !== e.revision) { this.seen = { revision: e.revision, at: sent }; return }
    if (sent - this.seen.at < this.o.leaseMs) return
    this.o.log.info({ lease: this.key, previous: holder, revision: e.revision }, 'lease expired: taking over')
    await this.acquire(sent, async (v) => await this.o.kv.update(this.key, v, e.revision))
  }

  private async acquire (sent: number, write: (v: Uint8Array) => Promise<number>): Promise<void> {
    const now = this.wall()
    this.acquiredAt = now
    try {
      this.revision = await write(this.value(now))
    } catch (err) {
      if (isConflict(err)) { this.acquiredAt = 0; return } // another contender won the race
      throw err
    }
    this.validUntil = sent + this.o.leaseMs - Math.floor(this.renewMs / 2)
    this.seen = undefined
    this.setLeader(true, 'lease acquired')
  }

  private setLeader (leader: boolean, why: string): void {
    if (leader === this.leader) return
    this.leader = leader
    if (!leader) this.acquiredAt = 0
    // the key says which lease: `placement`, or `site-export` (sites/export-writer.ts)
    this.o.log.info({ lease: this.key, holder: this.o.holder, leader, why }, leader ? 'lease held: leader' : 'lease lost: follower')
    this.o.onChange(leader)
  }

  /** Idempotent. A leader deletes its lease (CAS) so another instance takes over at once. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    await this.ticking
    if (this.leader) {
      try { await this.o.kv.delete(this.key, { previousSeq: this.revision }) } catch { /* taken or unreachable: it expires */ }
      this.setLeader(false, 'closing')
    }
  }
}

function holderOf (data: Uint8Array): string | undefined {
  const d = decodeJson(data)
  if (!d.ok || checkLeaseRecord.problems(d.value) !== null) return undefined
  return (d.value as LeaseRecord).holder
}

/** Reads the lease as it stands (for status). */
export async function readLease (kv: KV, key = LEASE_KEY): Promise<LeaseView> {
  const e = await kv.get(key)
  if (e == null || e.operation !== 'PUT') return { holder: null, expiresAt: null, revision: e?.revision ?? 0 }
  const d = decodeJson(e.value)
  if (!d.ok || checkLeaseRecord.problems(d.value) !== null) return { holder: null, expiresAt: null, revision: e.revision }
  const rec = d.value as LeaseRecord
  return { holder: rec.holder, expiresAt: rec.expiresAt, revision: e.revision }
}

export function isConflict (err: unknown): boolean {
  return /wrong last sequence|key exists|10071/i.test((err as Error)?.message ?? '')
}
