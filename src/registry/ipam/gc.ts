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
import { applyGc, gcDecision, quarantine, quarantineOver } from './state.js'
import type { IpamMirror } from './mirror.js'
import type { AllocatorMetrics } from './metrics.js'

export interface GcConfig { quarantineMs: number, reserveGraceMs: number, downGraceMs: number }

export interface GcDeps { kv: KV, hosts?: KV, mirror: IpamMirror, metrics: AllocatorMetrics, log: Logger, config: GcConfig }

/** Applies one snapshot of a host to that host's allocations. */
export async function collectFromSnapshot (d: GcDeps, snap: SnapshotMessage, now = Date.now()): Promise<void> {
  const containers = new Set(snap.containers)
  for (const key of d.mirror.hostKeys(snap.host)) {
    const cur = d.mirror.allocations.get(key)
    if (cur == null) continue
    const action = gcDecision(cur.value, snap, containers, now, d.config.reserveGraceMs)
    const next = applyGc(cur.value, action, now)
    if (next == null) continue
    if (await casUpdate(d.kv, key, next, cur.revision) == null) { d.metrics.conflicts.inc({ op: 'gc' }); continue }
    d.metrics.gc.inc({ action: action.kind === 'release' ? action.reason : action.kind })
    if (action.kind === 'release' || action.kind === 'bind') {
      d.log.info({ ip: cur.value.ip, pool: cur.value.pool, host: snap.host, action }, 'ipam gc')
    }
  }
}

/** Frees addresses whose quarantine is over, and releases those of hosts down past their grace. */
export async function sweep (d: GcDeps, now = Date.now()): Promise<void> {
  for (const [key, cur] of [...d.mirror.allocations]) {
    if (!quarantineOver(cur.value, now, d.config.quarantineMs)) continue
    if (await casDelete(d.kv, key, cur.revision)) d.metrics.gc.inc({ action: 'freed' })
  }
  if (d.hosts == null) return
  for (const host of d.mirror.hosts()) {
    if (!await downPastGrace(d.hosts, host, now, d.config.downGraceMs)) continue
    for (const key of d.mirror.hostKeys(host)) {
      const cur = d.mirror.allocations.get(key)
      if (cur == null || cur.value.state === 'quarantined') continue
      if (await casUpdate(d.kv, key, quarantine(cur.value, now, 'host-down'), cur.revision) != null) {
        d.metrics.gc.inc({ action: 'host-down' })
        d.log.warn({ ip: cur.value.ip, pool: cur.value.pool, host }, 'ipam: host down past its grace, address released')
      }
    }
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
