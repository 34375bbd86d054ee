// Pure: the summary a registry writes for the other sites (core/site-summary.ts)
// from its own tables, and how a reader picks the freshest one it heard. No I/O.
import type { EndpointRecord, HostRecord, ServiceRecord, SiteSummary, StandbyExport } from '../../core/index.js'
import { MAX_STANDBY_EXPORTS } from '../../core/index.js'
import { hostCounts, isRoutable } from './link.js'

export function buildSummary (site: string, registry: string, now: number, hosts: Iterable<HostRecord>,
  endpoints: Iterable<EndpointRecord>, services: Iterable<ServiceRecord>): SiteSummary {
  const routable = new Map<string, number>()
  for (const e of endpoints) if (isRoutable(e)) routable.set(e.service, (routable.get(e.service) ?? 0) + 1)
  const standby: StandbyExport[] = []
  for (const s of services) {
    if (s.spec.standby === undefined || s.spec.standby.site === site) continue
    standby.push({ spec: s.spec, routable: routable.get(s.spec.name) ?? 0 })
  }
  standby.sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1))
  return { v: 1, site, registry, at: now, hosts: hostCounts(hosts), standby: standby.slice(0, MAX_STANDBY_EXPORTS) }
}

/** A summary and when this process last saw it change (its own clock); null: only loaded at start. */
export interface HeardSummary { summary: SiteSummary, heardAt: number | null }

/** The most recently heard summary of a site (else the newest loaded at start), undefined when none. */
export function freshest (heard: Iterable<HeardSummary>): HeardSummary | undefined {
  let best: HeardSummary | undefined
  const rank = (h: HeardSummary): [number, number] => [h.heardAt ?? -1, h.summary.at]
  for (const h of heard) {
    if (best === undefined) { best = h; continue }
    const [a, b] = [rank(h), rank(best)]
    if (a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])) best = h
  }
  return best
}
