// Pure: what this site's standby does about the services other sites run
// with `standby: { site: <this>, replicas }` (issue 21; docs/architecture.md
// "Sites", standby). Inputs are this site's own view only: the other site's
// last summary and how long ago one arrived HERE, by this site's clock. No I/O.
//
// Per service of a heard site: keep a copy here at the standby count (the
// copy keeps `standby` with this site's name, which marks it as a copy, and
// drops `failover` and `autoscale`). When the site is lost (no summary for
// graceMs, or most of its hosts not up for graceMs): scale the copy to the
// site's last known count, once. When the site is heard again and serves the
// service (routable replicas in its summary) for holdMs: back to the standby
// count, then no takeover of that service for cooldownMs.
import { stableStringify, type ServiceSpec, type SiteSummary } from '../../core/index.js'

export interface StandbySettings { graceMs: number, holdMs: number, cooldownMs: number }

export interface SiteView {
  site: string
  /** ms since a summary of the site last arrived here; null when none arrived since this process started. */
  heardAgoMs: number | null
  /** ms since this process started watching: silence counts from there when nothing arrived. */
  watchedMs: number
  /** Its freshest summary (its last known state when it went silent). */
  summary?: SiteSummary
}

/** What the loop keeps between rounds (one per process). */
export interface StandbyMemory {
  /** site → since when most of its hosts are not up (as its summary says). */
  unhealthySince: Map<string, number>
  /** `site/service` → since when the site serves the service again, while taken over. */
  servingSince: Map<string, number>
  /** `site/service` → no takeover before this time (after a scale-back). */
  cooldownUntil: Map<string, number>
  /** site → last verdict (events on change only). */
  lost: Map<string, boolean>
  /** conflicts already reported (`site/service`). */
  reported: Set<string>
}

export const newStandbyMemory = (): StandbyMemory =>
  ({ unhealthySince: new Map(), servingSince: new Map(), cooldownUntil: new Map(), lost: new Map(), reported: new Set() })

export type StandbyReason = 'sync' | 'takeover' | 'scale-back'

export type StandbyAction =
  | { op: 'write', site: string, service: string, spec: ServiceSpec, reason: StandbyReason }
  | { op: 'remove', service: string }

export interface StandbyEvent { site: string, service?: string, what: 'lost' | 'heard' | 'takeover' | 'scale-back' | 'cooldown' | 'conflict', message: string }

export interface SiteStandbyStatus { lost: boolean, takenOver: string[] }

export interface StandbyDecision {
  actions: StandbyAction[]
  events: StandbyEvent[]
  status: Map<string, SiteStandbyStatus>
}

/** The copy of `spec` this site runs at `replicas`. */
export function standbyCopy (spec: ServiceSpec, local: string, replicas: number): ServiceSpec {
  const { failover: _f, autoscale: _a, standby, ...rest } = spec
  return { ...rest, replicas, standby: { site: local, replicas: standby?.replicas ?? 0 } }
}

/** A copy made by a standby (not an operator's own spec). */
export const isStandbyCopy = (spec: ServiceSpec | undefined, local: string): boolean => spec?.standby?.site === local

function siteLost (v: SiteView, mem: StandbyMemory, now: number, graceMs: number): boolean {
  if ((v.heardAgoMs ?? v.watchedMs) > graceMs) return true
  const h = v.summary?.hosts
  const total = h === undefined ? 0 : h.up + h.suspect + h.down
  if (h === undefined || total === 0 || h.up * 2 >= total) { mem.unhealthySince.delete(v.site); return false }
  const since = mem.unhealthySince.get(v.site) ?? now
  mem.unhealthySince.set(v.site, since)
  return now - since > graceMs
}

export function decideStandby (local: string, views: SiteView[], specs: ReadonlyMap<string, ServiceSpec>,
  mem: StandbyMemory, now: number, s: StandbySettings): StandbyDecision {
  const out: StandbyDecision = { actions: [], events: [], status: new Map() }
  const exported = new Set<string>()
  let anyLost = false
  for (const v of views) {
    const lost = siteLost(v, mem, now, s.graceMs)
    anyLost ||= lost
    if (mem.lost.get(v.site) !== lost && (lost || mem.lost.has(v.site))) {
      out.events.push({ site: v.site, what: lost ? 'lost' : 'heard', message: lost ? `site ${v.site} is lost as seen from ${local}` : `site ${v.site} is heard again` })
    }
    mem.lost.set(v.site, lost)
    const st: SiteStandbyStatus = { lost, takenOver: [] }
    out.status.set(v.site, st)
    for (const e of v.summary?.standby ?? []) {
      if (e.spec.standby?.site !== local) continue
      const name = e.spec.name
      const key = `${v.site}/${name}`
      const cur = specs.get(name)
      if (exported.has(name) || (cur !== undefined && !isStandbyCopy(cur, local))) {
        if (!mem.reported.has(key)) out.events.push({ site: v.site, service: name, what: 'conflict', message: `${name}: a service of that name already runs here; no standby copy` })
        mem.reported.add(key)
        continue
      }
      exported.add(name)
      const standbyCount = e.spec.standby.replicas
      const takenOver = cur !== undefined && cur.replicas > standbyCount
      const write = (replicas: number, reason: StandbyReason): void => {
        const spec = standbyCopy(e.spec, local, replicas)
        if (cur === undefined || stableStringify(cur) !== stableStringify(spec)) out.actions.push({ op: 'write', site: v.site, service: name, spec, reason })
      }
      if (lost) {
        mem.servingSince.delete(key)
        if (takenOver) { st.takenOver.push(name); continue }
        const until = mem.cooldownUntil.get(key) ?? 0
        if (now < until) {
          if (!mem.reported.has(`${key}#cooldown`)) out.events.push({ site: v.site, service: name, what: 'cooldown', message: `${name}: no takeover before ${new Date(until).toISOString()} (scaled back ${Math.round(s.cooldownMs / 1000)} s before)` })
          mem.reported.add(`${key}#cooldown`)
          write(standbyCount, 'sync')
          continue
        }
        if (e.spec.replicas > standbyCount) {
          write(e.spec.replicas, 'takeover')
          st.takenOver.push(name)
          out.events.push({ site: v.site, service: name, what: 'takeover', message: `${name}: site ${v.site} lost, scaled here to its last known ${e.spec.replicas} replicas` })
        } else write(standbyCount, 'sync')
        continue
      }
      mem.reported.delete(`${key}#cooldown`)
      if (!takenOver) { mem.servingSince.delete(key); write(standbyCount, 'sync'); continue }
      // Taken over and the site is heard: back once it has served the service for holdMs.
      if (e.routable === 0 || v.heardAgoMs === null) { mem.servingSince.delete(key); st.takenOver.push(name); continue }
      const since = mem.servingSince.get(key) ?? now
      mem.servingSince.set(key, since)
      if (now - since < s.holdMs) { st.takenOver.push(name); continue }
      write(standbyCount, 'scale-back')
      mem.servingSince.delete(key)
      mem.cooldownUntil.set(key, now + s.cooldownMs)
      out.events.push({ site: v.site, service: name, what: 'scale-back', message: `${name}: site ${v.site} serves it again, scaled back here to ${standbyCount}` })
    }
  }
  // A copy no heard site exports any more goes, unless some site is lost (it may be that site's).
  if (!anyLost && views.every((v) => v.heardAgoMs !== null)) {
    for (const [name, spec] of specs) if (isStandbyCopy(spec, local) && !exported.has(name)) out.actions.push({ op: 'remove', service: name })
  }
  return out
}
