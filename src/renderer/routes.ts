// The route table (issue 16): which service answers which host and path
// prefix. Pure: spec records and endpoint records in, the table and the
// refused claims out, the same whatever order the records arrive in.
//
// Claims come from specs (`routes:`) and from containers' labels
// (`driftgate.hosts`, `driftgate.path`). Two services claiming one host+path:
// a spec claim beats a label claim; between claims of the same kind the
// lexically smallest service name wins (the API refuses a conflicting spec,
// so spec-vs-spec only happens when two PUTs race). The losers are reported.
import { ROOT_PATH, claimKey, isDnsLabel, isRouteHost, isRoutePath } from '../core/index.js'
import type { EndpointRecord, ServiceRecord } from '../core/index.js'

export type ClaimSource = 'spec' | 'label'

/** A certificate for a host name (the TLS side fills it in; see certFor). */
export interface HostTls { cert: string, key: string }

export interface RouteLocation {
  /** Path prefix: `/` or `/a/b` (no trailing slash). */
  path: string
  service: string
  stripPrefix: boolean
  redirectHttps: boolean
  source: ClaimSource
}

export interface HostRoutes {
  /** `shop.example.com` or `*.example.com` (nginx `server_name` syntax for both). */
  host: string
  wildcard: boolean
  /** Longest prefix first, then by path. */
  locations: RouteLocation[]
  /** Some location of this host asks HTTP to be redirected to HTTPS. */
  redirectHttps: boolean
  /** Present when certFor knows a certificate for this host. */
  tls?: HostTls
}

export interface RouteConflict {
  host: string
  path: string
  /** The service that keeps the route, and how it claimed it. */
  winner: string
  winnerSource: ClaimSource
  /** The service whose claim was skipped. */
  loser: string
  loserSource: ClaimSource
}

export interface RouteTable {
  /** Sorted by host name. */
  hosts: HostRoutes[]
  conflicts: RouteConflict[]
  /** Claims dropped because a name or path failed the rules (defence in depth). */
  invalid: Array<{ service: string, reason: string }>
}

export interface BuildRoutesOptions {
  /** The certificate of a host name, if any (injected by the TLS side; default: none). */
  certFor?: (host: string) => HostTls | undefined
  /** Services that have an upstream (a claim for any other is dropped: `proxy_pass` to it would fail nginx -t). */
  exists?: (service: string) => boolean
}

interface Claim { host: string, path: string, service: string, source: ClaimSource, stripPrefix: boolean, redirectHttps: boolean }

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
const rank = (c: Claim): number => (c.source === 'spec' ? 0 : 1)
const better = (a: Claim, b: Claim): number => rank(a) - rank(b) || byName(a.service, b.service)

function specClaims (rec: ServiceRecord, out: Claim[], invalid: RouteTable['invalid']): void {
  const service = rec?.spec?.name
  if (!isDnsLabel(service)) return
  for (const r of rec.spec.routes ?? []) {
    const path = r.path ?? ROOT_PATH
    if (!isRouteHost(r.host) || !isRoutePath(path)) { invalid.push({ service, reason: 'spec route: host or path' }); continue }
    out.push({ host: r.host, path, service, source: 'spec', stripPrefix: r.stripPrefix === true, redirectHttps: r.redirectHttps === true })
  }
}

// A tombstone keeps its container's claims (until the registry's tombstone GC,
// 10 min by default), as the model keeps the service's upstream: a
// label-routed container that restarts or is replaced answers 503 meanwhile,
// never 404, and causes no reload (endpoint changes never reload in lua mode).
function labelClaims (e: EndpointRecord, out: Claim[], invalid: RouteTable['invalid']): void {
  if (e == null || e.hosts == null || !isDnsLabel(e.service)) return
  const path = e.path ?? ROOT_PATH
  if (!isRoutePath(path)) { invalid.push({ service: e.service, reason: 'label route: path' }); return }
  for (const host of e.hosts) {
    if (!isRouteHost(host)) { invalid.push({ service: e.service, reason: 'label route: host' }); continue }
    out.push({ host, path, service: e.service, source: 'label', stripPrefix: false, redirectHttps: false })
  }
}

/** Longest prefix first (nginx picks the longest match anyway; the order keeps files stable and readable). */
const byPrefix = (a: RouteLocation, b: RouteLocation): number => b.path.length - a.path.length || byName(a.path, b.path)

export function buildRoutes (services: Iterable<ServiceRecord>, endpoints: Iterable<EndpointRecord>, opts: BuildRoutesOptions = {}): RouteTable {
  const claims: Claim[] = []
  const invalid: RouteTable['invalid'] = []
  for (const rec of services) specClaims(rec, claims, invalid)
  for (const e of endpoints) labelClaims(e, claims, invalid)
  if (opts.exists !== undefined) {
    const exists = opts.exists
    for (let i = claims.length - 1; i >= 0; i--) {
      if (!exists(claims[i].service)) { invalid.push({ service: claims[i].service, reason: 'no upstream' }); claims.splice(i, 1) }
    }
  }
  // group by host+path; the best claim wins, one conflict per other service
  const groups = new Map<string, Claim[]>()
  for (const c of claims) {
    const k = claimKey(c.host, c.path)
    const g = groups.get(k)
    if (g == null) groups.set(k, [c]); else g.push(c)
  }
  const conflicts: RouteConflict[] = []
  const hosts = new Map<string, HostRoutes>()
  for (const g of groups.values()) {
    g.sort(better)
    const win = g[0]
    const lost = new Set<string>([win.service])
    for (const c of g) {
      if (lost.has(c.service)) continue
      lost.add(c.service)
      conflicts.push({ host: c.host, path: c.path, winner: win.service, winnerSource: win.source, loser: c.service, loserSource: c.source })
    }
    let h = hosts.get(win.host)
    if (h == null) {
      h = { host: win.host, wildcard: win.host.startsWith('*.'), locations: [], redirectHttps: false }
      hosts.set(win.host, h)
    }
    h.locations.push({ path: win.path, service: win.service, stripPrefix: win.stripPrefix, redirectHttps: win.redirectHttps, source: win.source })
  }
  const list = [...hosts.values()].sort((a, b) => byName(a.host, b.host))
  for (const h of list) {
    h.locations.sort(byPrefix)
    h.redirectHttps = h.locations.some((l) => l.redirectHttps)
    const tls = opts.certFor?.(h.host)
    if (tls !== undefined) h.tls = tls
  }
  conflicts.sort((a, b) => byName(a.host, b.host) || byName(a.path, b.path) || byName(a.loser, b.loser))
  invalid.sort((a, b) => byName(a.service, b.service) || byName(a.reason, b.reason))
  return { hosts: list, conflicts, invalid }
}

/** What of an endpoint record can change the route table. */
export function endpointRouteKey (e: EndpointRecord | undefined): string {
  if (e == null || e.hosts == null) return ''
  return `${e.service}|${e.hosts.join(',')}|${e.path ?? ''}`
}

/** What of a service record can change the route table. */
export function serviceRouteKey (r: ServiceRecord | undefined): string {
  return r?.spec?.routes == null ? '' : JSON.stringify(r.spec.routes)
}
