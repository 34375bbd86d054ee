// Which unhealthy replicas placement replaces now (issue 19). Pure: the
// replicas' health as the endpoints table shows it, their replacement
// history (in their assignment records) and the time in; one verdict per
// replica that is unhealthy or being replaced out. Rules:
//  - a replica unhealthy for `replaceAfter` is replaced (the leader bumps its
//    assignment's incarnation; its agent starts a new container, waits until
//    it is healthy and routed, then drains and removes the old one);
//  - the clock restarts at a replacement: a replica is not replaced twice for
//    the same stretch of unhealthiness;
//  - a replacement is under way until the replica shows a healthy container
//    again, or for at most `inflightMs` (a new container that never turns
//    healthy must not block its service for ever);
//  - a replica replaced `maxReplacements` times within `windowMs` backs off
//    until the oldest of those leaves the window (a crash-looping image is
//    not restarted in a tight loop);
//  - per service at most max(1, floor(share × replicas)) replacements are
//    under way at once, the longest-unhealthy first: a whole service going
//    unhealthy at once (a shared dependency down) is not replaced in a storm.

/** A replica's health from its live endpoints: the best of them (a new container may serve while the old one fails). */
export type ReplicaStatus = 'healthy' | 'starting' | 'unhealthy' | 'none' | 'missing'

export interface ReplicaInput {
  /** The assignment key `<host>.<service>.<replica>`. */
  key: string
  service: string
  replica: number
  status: ReplicaStatus
  /** Since when the replica has been unhealthy (ms), when it is. */
  unhealthySince?: number
  /** When placement replaced it, oldest first (the assignment's replacedAt). */
  replacedAt: readonly number[]
}

export interface ServicePolicy { replicas: number, replaceAfterMs: number }

export interface ReplacePolicy {
  maxReplacements: number
  windowMs: number
  /** Share of a service's replicas that may be under replacement at once (at least one). */
  concurrentShare: number
  inflightMs: number
}

export const REPLACE_DEFAULTS: Readonly<ReplacePolicy> = Object.freeze({
  maxReplacements: 3, windowMs: 10 * 60_000, concurrentShare: 0.25, inflightMs: 120_000,
})

export type Verdict = 'replace' | 'replacing' | 'waiting' | 'backoff' | 'capped'

export interface Decision {
  key: string
  service: string
  replica: number
  verdict: Verdict
  reason: string
  /** When the verdict may change by itself (waiting, backoff, replacing): the leader runs again then. */
  until?: number
}

const secs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`)
const span = (ms: number): string => (ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000}m` : secs(ms))

export function decideReplacements (replicas: readonly ReplicaInput[], services: ReadonlyMap<string, ServicePolicy>,
  now: number, policy: ReplacePolicy = REPLACE_DEFAULTS): Decision[] {
  const out: Decision[] = []
  const candidates = new Map<string, Array<{ r: ReplicaInput, since: number }>>()
  const busy = new Map<string, number>()
  for (const r of [...replicas].sort(byKey)) {
    const svc = services.get(r.service)
    if (svc === undefined) continue
    const last = r.replacedAt.length > 0 ? r.replacedAt[r.replacedAt.length - 1] : undefined
    const base = { key: r.key, service: r.service, replica: r.replica }
    if (last !== undefined && now - last < policy.inflightMs && r.status !== 'healthy') {
      busy.set(r.service, (busy.get(r.service) ?? 0) + 1)
      out.push({ ...base, verdict: 'replacing', reason: `replaced ${secs(now - last)} ago; waiting for the new container to turn healthy`, until: last + policy.inflightMs })
      continue
    }
    if (r.status !== 'unhealthy' || r.unhealthySince === undefined) continue
    // The clock restarts at the last replacement.
    const since = Math.max(r.unhealthySince, last ?? 0)
    const due = since + svc.replaceAfterMs
    if (now < due) {
      out.push({ ...base, verdict: 'waiting', reason: `unhealthy for ${secs(now - since)}; replaced after ${secs(svc.replaceAfterMs)}`, until: due })
      continue
    }
    const recent = r.replacedAt.filter((at) => now - at < policy.windowMs)
    if (recent.length >= policy.maxReplacements) {
      const until = recent[0] + policy.windowMs
      out.push({ ...base, verdict: 'backoff', reason: `replaced ${recent.length} times in ${span(policy.windowMs)} and still unhealthy; next try in ${secs(until - now)}`, until })
      continue
    }
    const list = candidates.get(r.service) ?? []
    list.push({ r, since })
    candidates.set(r.service, list)
  }
  for (const [service, list] of candidates) {
    const svc = services.get(service)!
    const cap = Math.max(1, Math.floor(policy.concurrentShare * svc.replicas))
    let free = cap - (busy.get(service) ?? 0)
    list.sort((a, b) => a.since - b.since || a.r.replica - b.r.replica)
    for (const { r, since } of list) {
      const base = { key: r.key, service: r.service, replica: r.replica }
      if (free > 0) {
        free--
        out.push({ ...base, verdict: 'replace', reason: `unhealthy for ${secs(now - since)} (replaceAfter ${secs(svc.replaceAfterMs)})` })
      } else {
        out.push({ ...base, verdict: 'capped', reason: `waiting: at most ${cap} of ${svc.replicas} replicas of ${service} are replaced at once` })
      }
    }
  }
  return out.sort((a, b) => byKey(a, b))
}

function byKey (a: { key: string }, b: { key: string }): number { return a.key < b.key ? -1 : a.key > b.key ? 1 : 0 }
