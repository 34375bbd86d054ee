// Leak collection and the end of quarantine. Snapshots are the owning host's
// confirmation: only a snapshot from the owner can bind, count a miss or
// release; a silent host keeps its addresses (fail static) until it has been
// `down` for longer than its grace. Every write is a compare-and-set against
// the mirror's revision: losing a race just leaves the decision to the next
// snapshot or sweep.
import type { KV } from 'nats'
import { checkHostRecord, type Logger, type SnapshotMessage } from '../../core/index.js'
import { decodeJson } from '../../bus/index.js'
import { casDelete, casUpdate } from './store.js'
import { applyGc, gcDecision, quarantine, quarantineOver, type GcAction } from './state.js'
import type { IpamMirror } from './mirror.js'
import type { AllocatorMetrics } from './metrics.js'
import type { BlockAllocator } from './block-allocator.js'
import { changeEntry } from './blocks.js'
import type { AllocationRecord } from '../../core/index.js'

export interface GcConfig { quarantineMs: number, reserveGraceMs: number, downGraceMs: number }

export interface GcDeps { kv: KV, hosts?: KV, mirror: IpamMirror, metrics: AllocatorMetrics, log: Logger, config: GcConfig, blocks?: BlockAllocator }

/**
 * One decision on one allocation, written back: in its block's next batched
 * write (decided again on the entry that write replaces), or with a
 * compare-and-set of its own key against the mirror's revision. The record
 * written, or null (nothing to do, or a lost race).
 */
async function change (d: GcDeps, key: string, decide: (r: AllocationRecord) => AllocationRecord | null | 'free'): Promise<{ from: AllocationRecord, to: AllocationRecord | 'free' } | null> {
  const cur = d.mirror.allocations.get(key)
  if (cur == null) return null
  const pool = d.mirror.blockOf(key) != null ? d.mirror.pools.get(cur.value.pool) : undefined
  if (pool != null && d.blocks != null) {
    return await d.blocks.onBlock(pool, cur.value.ip, changeEntry(cur.value.ip, (now) => {
      const next = now == null ? null : decide(now)
      if (now == null || next == null) return { value: null }
      return { value: { from: now, to: next }, record: next === 'free' ? null : next }
    }))
  }
  const next = decide(cur.value)
  if (next == null) return null
  const ok = next === 'free' ? await casDelete(d.kv, key, cur.revision) : await casUpdate(d.kv, key, next, cur.revision) != null
  if (!ok) { d.metrics.conflicts.inc({ op: 'gc' }); return null }
  return { from: cur.value, to: next }
}

/** Applies one snapshot of a host to that host's allocations. */
export async function collectFromSnapshot (d: GcDeps, snap: SnapshotMessage, now = Date.now()): Promise<void> {
  const containers = new Set(snap.containers)
  await Promise.all(d.mirror.hostKeys(snap.host).map(async (key) => {
    let action: GcAction = { kind: 'keep' }
    const done = await change(d, key, (r) => { action = gcDecision(r, snap, containers, now, d.config.reserveGraceMs); return applyGc(r, action, now) })
    if (done == null) return
    const a = action as GcAction
    d.metrics.gc.inc({ action: a.kind === 'release' ? a.reason : a.kind })
    if (a.kind === 'release' || a.kind === 'bind') {
      d.log.info({ ip: done.from.ip, pool: done.from.pool, host: snap.host, action: a }, 'ipam gc')
    }
  }))
}

/** Frees addresses whose quarantine is over, and releases those of hosts down past their grace. */
export async function sweep (d: GcDeps, now = Date.now()): Promise<void> {
  const over = [...d.mirror.allocations].filter(([, cur]) => quarantineOver(cur.value, now, d.config.quarantineMs))
  await Promise.all(over.map(async ([key]) => {
    if (await change(d, key, (r) => quarantineOver(r, now, d.config.quarantineMs) ? 'free' : null) != null) d.metrics.gc.inc({ action: 'freed' })
  }))
  if (d.hosts == null) return
  for (const host of d.mirror.hosts()) {
    if (!await downPastGrace(d.hosts, host, now, d.config.downGraceMs)) continue
    await Promise.all(d.mirror.hostKeys(host).map(async (key) => {
      const done = await change(d, key, (r) => r.state === 'quarantined' || r.owner.host !== host ? null : quarantine(r, now, 'host-down'))
      if (done == null) return
      d.metrics.gc.inc({ action: 'host-down' })
      d.log.warn({ ip: done.from.ip, pool: done.from.pool, host }, 'ipam: host down past its grace, address released')
    }))
  }
}

async function downPastGrace (hosts: KV, host: string, now: number, graceMs: number): Promise<boolean> {
  const e = await hosts.get(host)
  if (e == null || e.operation !== 'PUT') return false // unknown host: keep (fail static)
  const d = decodeJson(e.value)
  if (!d.ok) return false
  const p = checkHostRecord.problems(d.value)
  if (p != null) return false
  const rec = checkHostRecord(d.value)
  return rec.status === 'down' && now - rec.since >= graceMs
}
