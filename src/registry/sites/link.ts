// Pure: what a remote site looks like from here — its link state from the
// mirror's own report, and a summary of its hosts. No I/O.
import type { EndpointRecord, HostRecord } from '../../core/index.js'
import type { MirrorState } from '../../bus/index.js'

export type LinkState = 'up' | 'down' | 'unknown'

/**
 * Up while the mirrors heard from the origin within `staleAfterMs` (the
 * origin's mirror consumer sends a heartbeat every second while idle, so a
 * live link never looks older than ~1 s; measured). Down when any mirror
 * is older or failing; unknown before the first report.
 */
export function linkState (states: Array<MirrorState | undefined>, staleAfterMs: number): LinkState {
  if (states.length === 0 || states.some((s) => s === undefined)) return 'unknown'
  for (const s of states as MirrorState[]) {
    if (s.activeMs === null || s.activeMs > staleAfterMs || s.error !== undefined) return 'down'
  }
  return 'up'
}

export interface HostCounts { up: number, suspect: number, down: number }

export function hostCounts (hosts: Iterable<HostRecord>): HostCounts {
  const c: HostCounts = { up: 0, suspect: 0, down: 0 }
  for (const h of hosts) c[h.status]++
  return c
}

/** Routable in the origin site: running, not unhealthy, not a tombstone (DESIGN invariant 5). */
export function isRoutable (e: EndpointRecord): boolean {
  return e.removed !== true && e.state === 'running' && e.health !== 'unhealthy'
}

/** What GET /v1/sites says about one remote site. */
export interface SiteStatus {
  site: string
  link: LinkState
  /** ms since the mirrors last heard from the site (the oldest of them); null when never. */
  lastHeardMs: number | null
  /** Messages the mirrors are behind, as last reported by JetStream. */
  lag: number
  /** True when the link is not up: the site's entries are its last known state. */
  stale: boolean
  endpoints: number
  /** The site's hosts as its freshest summary counts them (zeros when none was heard). */
  hosts: HostCounts
  /** ms since a summary of the site last arrived here (this site's clock); null when none since this registry started. */
  summaryAgeMs: number | null
  /** This site judges the other one lost (standby, its own view only). */
  lost: boolean
  /** The other site's services this site runs at their full count. */
  takenOver: string[]
  error?: string
}

export function siteStatus (site: string, states: Array<MirrorState | undefined>, staleAfterMs: number,
  endpoints: Iterable<EndpointRecord>, summary?: { hosts: HostCounts, heardAgoMs: number | null },
  standby?: { lost: boolean, takenOver: string[] }): SiteStatus {
  const link = linkState(states, staleAfterMs)
  let lastHeardMs: number | null = 0
  let lag = 0
  let error: string | undefined
  for (const s of states) {
    if (s === undefined || s.activeMs === null) { lastHeardMs = null; continue }
    if (lastHeardMs !== null) lastHeardMs = Math.max(lastHeardMs, s.activeMs)
    lag += s.lag
    error ??= s.error
  }
  let n = 0
  for (const e of endpoints) if (isRoutable(e)) n++
  const out: SiteStatus = {
    site, link, lastHeardMs, lag, stale: link !== 'up', endpoints: n,
    hosts: summary?.hosts ?? { up: 0, suspect: 0, down: 0 }, summaryAgeMs: summary?.heardAgoMs ?? null,
    lost: standby?.lost ?? false, takenOver: standby?.takenOver ?? [],
  }
  if (error !== undefined) out.error = error
  return out
}
