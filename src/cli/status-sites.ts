// The sites part of `driftgate status` (issue 21): this site, each other
// site with its link state, and the services answered from another site.
import { formatTable } from './client.js'

export interface SitesStatus {
  site: string
  remote: Array<{ site: string, link: string, lastHeardMs: number | null, lag: number, stale: boolean, endpoints: number, hosts: { up: number, suspect: number, down: number }, summaryAgeMs?: number | null, error?: string }>
  failedOver: Array<{ service: string, site: string }>
}

export function renderSites (s: SitesStatus): string {
  if (s.remote.length === 0) return `site: ${s.site} (no other site mirrored)\n`
  let out = `site: ${s.site}\n\n` + formatTable([['SITE', 'LINK', 'LAST HEARD', 'LAG', 'ENDPOINTS', 'HOSTS UP/SUSPECT/DOWN'],
    ...s.remote.map((r) => [r.site, r.link + (r.stale ? ' (stale)' : ''), r.lastHeardMs === null ? 'never' : `${(r.lastHeardMs / 1000).toFixed(1)}s ago`,
      String(r.lag), String(r.endpoints), `${r.hosts.up}/${r.hosts.suspect}/${r.hosts.down}`])])
  out += s.failedOver.length === 0
    ? '\nno service failed over\n'
    : '\n' + formatTable([['FAILED OVER', 'SERVED BY SITE'], ...s.failedOver.map((f) => [f.service, f.site])])
  return out
}
