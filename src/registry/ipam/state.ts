// Allocation state machine: free → reserved → bound → quarantined → free.
// Pure functions from (record, request, now) to the next record or a refusal;
// the I/O layer writes the result with compare-and-set.
import type { AllocationRecord, IpamOwner, SnapshotMessage } from '../../core/index.js'

export type Transition =
  | { ok: true, next: AllocationRecord | null, noop?: boolean }
  | { ok: false, code: 'not_owner' | 'state', error: string }

export function reserve (pool: string, ip: string, owner: IpamOwner, now: number): AllocationRecord {
  return { v: 1, pool, ip, state: 'reserved', owner: { host: owner.host, mac: owner.mac }, since: now }
}

function describe (r: AllocationRecord): string {
  const c = r.owner.container != null ? ` container ${r.owner.container.slice(0, 12)}` : ''
  return `${r.state} by host ${r.owner.host} mac ${r.owner.mac}${c}`
}

/** Same host and MAC: a repeated allocate from the same endpoint gets the same address back. */
export function sameOwner (r: AllocationRecord, host: string, mac: string): boolean {
  return r.owner.host === host && r.owner.mac === mac
}

export function bind (r: AllocationRecord, host: string, mac: string, containerId: string, now: number): Transition {
  if (!sameOwner(r, host, mac) || r.state === 'quarantined') {
    return { ok: false, code: 'not_owner', error: `${r.ip} is ${describe(r)}: cannot bind it to host ${host} mac ${mac}` }
  }
  if (r.state === 'bound' && r.owner.container === containerId) return { ok: true, next: r, noop: true }
  if (r.state === 'bound') {
    return { ok: false, code: 'state', error: `${r.ip} is already ${describe(r)}` }
  }
  return { ok: true, next: { ...r, state: 'bound', owner: { ...r.owner, container: containerId }, since: now, missed: 0 } }
}

/**
 * Release, accepted only from the owner: same host, and the same MAC or
 * container when the request names one. A replay of an old release for an
 * address since given to someone else names the old MAC, and is refused.
 */
export function release (r: AllocationRecord, req: { host: string, mac?: string, container?: string }, now: number, reason = 'released'): Transition {
  const macOk = req.mac == null || req.mac === r.owner.mac
  const containerOk = req.container == null || req.container === r.owner.container
  if (r.owner.host !== req.host || !macOk || !containerOk) {
    const who = [`host ${req.host}`, req.mac != null ? `mac ${req.mac}` : '', req.container != null ? `container ${req.container.slice(0, 12)}` : '']
    return { ok: false, code: 'not_owner', error: `${r.ip} is ${describe(r)}: release from ${who.filter(Boolean).join(' ')} refused (not the owner)` }
  }
  if (r.state === 'quarantined') return { ok: true, next: r, noop: true }
  return { ok: true, next: quarantine(r, now, reason) }
}

export function quarantine (r: AllocationRecord, now: number, reason: string): AllocationRecord {
  const { missed: _m, ...rest } = r
  return { ...rest, state: 'quarantined', since: now, reason }
}

/** A quarantined address whose quarantine has passed may be deleted (becomes free). */
export function quarantineOver (r: AllocationRecord, now: number, quarantineMs: number): boolean {
  return r.state === 'quarantined' && now - r.since >= quarantineMs
}

export type GcAction =
  | { kind: 'keep' }
  | { kind: 'bind', container: string }
  | { kind: 'missed', missed: number }
  | { kind: 'seen' }
  | { kind: 'release', reason: string }

/** Consecutive snapshots without the bound container before its address is reclaimed. */
export const MISSES_BEFORE_RELEASE = 2

/**
 * What one snapshot of the owner host means for one of its allocations.
 * Only snapshots taken after the record entered its state count, so a
 * snapshot racing with a bind is never mistaken for a missing container.
 */
export function gcDecision (r: AllocationRecord, snap: Pick<SnapshotMessage, 'host' | 'time' | 'endpoints' | 'containers'>, containers: Set<string>, now: number, reserveGraceMs: number): GcAction {
  if (r.owner.host !== snap.host || r.state === 'quarantined') return { kind: 'keep' }
  if (r.state === 'reserved') {
    // A labelled container in the snapshot with this IP and MAC: bind it here.
    const ep = snap.endpoints.find((e) => e.ip === r.ip && e.mac === r.owner.mac)
    if (ep != null) return { kind: 'bind', container: ep.containerId }
    if (now - r.since >= reserveGraceMs && snap.time - r.since >= reserveGraceMs) return { kind: 'release', reason: 'reserve-expired' }
    return { kind: 'keep' }
  }
  if (r.owner.container != null && containers.has(r.owner.container)) {
    return (r.missed ?? 0) > 0 ? { kind: 'seen' } : { kind: 'keep' }
  }
  if (snap.time <= r.since) return { kind: 'keep' }
  const missed = (r.missed ?? 0) + 1
  return missed >= MISSES_BEFORE_RELEASE ? { kind: 'release', reason: 'container-gone' } : { kind: 'missed', missed }
}

/** Apply a GC action to a record: the next record, or null for keep. */
export function applyGc (r: AllocationRecord, a: GcAction, now: number): AllocationRecord | null {
  switch (a.kind) {
    case 'keep': return null
    case 'bind': return { ...r, state: 'bound', owner: { ...r.owner, container: a.container }, since: now, missed: 0 }
    case 'missed': return { ...r, missed: a.missed }
    case 'seen': return { ...r, missed: 0 }
    case 'release': return quarantine(r, now, a.reason)
  }
}
