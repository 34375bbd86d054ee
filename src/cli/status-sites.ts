// The sites part of `driftgate status` (issue 21): this site, each other
// site with its link state and whether this site judges it lost (standby),
// the services answered from another site and the ones taken over here.
import { formatTable } from './client.js'

export interface SitesStatus {
  site: string
  remote: Array<{
    site: string, link: string, lastHeardMs: number | null, lag: number, stale: boolean, endpoints: number,
    hosts: { up: number, suspect: number, down: number }, summaryAgeMs?: number | null, lost?: boolean, takenOver?: string[], error?: string
  }>
  failedOver: Array<{ service: string, site: string }>
}

const ago = (ms: number | null | undefined): string => (ms == null ? 'never' : `${(ms / 1000).toFixed(1)}s ago`)

export function renderSites (s: SitesStatus): string {
  if (s.remote.length === 0) return `site: ${s.site} (no other site mirrored)\n`
  let out = `site: ${s.site}\n\n` + formatTable([['SITE', 'LINK', 'LAST HEARD', 'LAG', 'ENDPOINTS', 'HOSTS UP/SUSPECT/DOWN', 'SUMMARY', 'STANDBY'],
    ...s.remote.map((r) => [r.site, r.link + (r.stale ? ' (stale)' : ''), ago(r.lastHeardMs),
      String(r.lag), String(r.endpoints), `${r.hosts.up}/${r.hosts.suspect}/${r.hosts.down}`, ago(r.summaryAgeMs),
      r.lost === true ? 'LOST' : 'heard'])])
  out += s.failedOver.length === 0
    ? '\nno service failed over\n'
    : '\n' + formatTable([['FAILED OVER', 'SERVED BY SITE'], ...s.failedOver.map((f) => [f.service, f.site])])
  const taken = s.remote.flatMap((r) => (r.takenOver ?? []).map((svc) => [svc, r.site]))
  if (taken.length > 0) out += '\n' + formatTable([['TAKEN OVER HERE', 'FROM LOST SITE'], ...taken])
  return out
}
