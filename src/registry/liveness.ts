// Host liveness, pure: what a heartbeat does to a host record, and what the
// periodic sweep concludes from the records and the clock (including the
// fail-static rule: when most hosts fall silent at once, remove nothing).
import { compareVersion, type HeartbeatMessage, type HostRecord } from '../core/index.js'

export interface LivenessOptions {
  /** Silent this long (3 missed heartbeats) → suspect. */
  suspectMs: number
  /** Silent this long → down, and its endpoints leave the table. */
  graceMs: number
  /**
   * When this registry instance started: nobody recorded heartbeats while no
   * registry ran, so silence is counted from here at the earliest.
   */
  startedAt: number
}

/** The host record after a heartbeat; null when the heartbeat is from an older agent run. */
export function applyHeartbeat (current: HostRecord | null, hb: HeartbeatMessage, now: number): HostRecord | null {
  if (current != null && compareVersion(hb.instance, 0, current.instance, 0) < 0) return null
  const status = 'up'
  return {
    v: 1,
    host: hb.host,
    ...(hb.address != null ? { address: hb.address } : {}),
    instance: hb.instance,
    capacity: hb.capacity,
    allocated: hb.allocated,
    labels: hb.labels,
    lastSeen: now,
    status,
    since: current != null && current.status === status ? current.since : now,
  }
}

/**
 * True when a heartbeat would only move lastSeen of a host that is up, by
 * less than `refreshMs`: it need not be written. At 1,000 hosts beating every
 * 2 s that halves the hosts-bucket writes (refreshMs = suspectMs / 2: the
 * stored lastSeen of a beating host is then at most ~2 beats old, under the
 * 3 beats that make it suspect). Any other change is written at once.
 */
export function heartbeatIsNews (current: HostRecord | null, next: HostRecord, refreshMs: number): boolean {
  if (current == null || current.status !== 'up' || next.lastSeen - current.lastSeen >= refreshMs) return true
  return current.instance !== next.instance || current.address !== next.address ||
    !sameJson(current.capacity, next.capacity) || !sameJson(current.allocated, next.allocated) || !sameJson(current.labels, next.labels)
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

export interface Assessment {
  /** Records whose status changes (write each with CAS). */
  changes: HostRecord[]
  failStatic: boolean
  /** Hosts silent longer than suspectMs, not (yet) down. */
  silent: string[]
  /** Hosts not down: the population fail static is judged on. */
  known: number
}

export function assessHosts (hosts: Iterable<HostRecord>, now: number, o: LivenessOptions): Assessment {
  const live = [...hosts].filter((h) => h.status !== 'down')
  const quiet = (h: HostRecord): number => now - Math.max(h.lastSeen, o.startedAt)
  const silent = live.filter((h) => quiet(h) > o.suspectMs)
  // Hosts already down went silent earlier, alone; the live ones that fell
  // silent did so within one grace period (or they would be down by now).
  const failStatic = silent.length > 0 && silent.length * 2 > live.length
  const changes: HostRecord[] = []
  for (const h of silent) {
    const to = !failStatic && quiet(h) > o.graceMs ? 'down' : 'suspect'
    if (to !== h.status) changes.push({ ...h, status: to, since: now })
  }
  return { changes, failStatic, silent: silent.map((h) => h.host).sort(), known: live.length }
}
