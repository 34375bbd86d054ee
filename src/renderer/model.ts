// The render model: a pure function of the endpoint and service tables.
// Only records that pass the name/address rules here reach a template, even
// though the KV layer validated them already (defence in depth: a template is
// nginx syntax, and one stray `;` or newline would be a directive).
import { isDnsLabel, isContainerId, isIPv4, DURATION_PATTERN } from '../core/index.js'
import type { EndpointRecord, ServiceRecord } from '../core/index.js'

export type BalanceMethod = 'round_robin' | 'least_conn' | 'ip_hash' | 'random'

export interface UpstreamServer { ip: string, port: number, weight: number, containerId: string }

/** Another site's endpoints of a service (issue 21): `(site, service)` → its routable records. */
export type RemoteSource = (site: string, service: string) => Iterable<EndpointRecord>

export interface UpstreamModel {
  name: string
  method: BalanceMethod
  maxFails: number
  /** nginx time syntax, e.g. "10s". */
  failTimeout: string
  keepalive: number
  /** Live endpoints, sorted by ip, port, container id. Empty → the 503 fallback. */
  servers: UpstreamServer[]
  /** True when no service spec exists (the defaults were used). */
  defaulted: boolean
  /**
   * Failover (issue 21): another site's endpoints, used only when no local
   * one can take the request (nginx `backup` peers; lua: the same rule).
   * Empty without `failover` in the spec, or when `servers` already are the
   * failover site's (the local set is empty).
   */
  backups?: UpstreamServer[]
  /** `spill`: a request whose try on a local peer failed goes to a backup next (lua mode). */
  spill?: boolean
  /** The site whose endpoints `servers` are, when the local set is empty and failover took over. */
  failedOver?: string
}

export interface Model {
  /** Sorted by name. */
  services: UpstreamModel[]
  /** Sorted container ids routed by this model (for the applied message). */
  containers: string[]
}

export interface InvalidRecord { key: string, reason: string }

export interface BuildResult { model: Model, invalid: InvalidRecord[] }

export const UPSTREAM_DEFAULTS = { method: 'round_robin' as BalanceMethod, maxFails: 1, failTimeout: '10s', keepalive: 16 }

const METHODS = new Set<string>(['round_robin', 'least_conn', 'ip_hash', 'random'])
const DURATION = new RegExp(DURATION_PATTERN)

function isInt (v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
}

/** Why an endpoint record may not be routed, or null when it is fine. */
export function endpointProblem (e: EndpointRecord): string | null {
  if (!isDnsLabel(e.service)) return 'service name'
  if (!isContainerId(e.containerId)) return 'container id'
  if (!isIPv4(e.ip)) return 'ip'
  if (!isInt(e.port, 1, 65535)) return 'port'
  if (!isInt(e.weight, 1, 100)) return 'weight'
  return null
}

/** Why a service spec's upstream options are unusable, or null when fine. */
export function serviceProblem (r: ServiceRecord): string | null {
  const spec = r?.spec
  if (spec == null || !isDnsLabel(spec.name)) return 'service name'
  const u = spec.upstream ?? {}
  if (u.method !== undefined && !METHODS.has(u.method)) return 'upstream.method'
  if (u.maxFails !== undefined && !isInt(u.maxFails, 0, 1000)) return 'upstream.maxFails'
  if (u.failTimeout !== undefined && (typeof u.failTimeout !== 'string' || !DURATION.test(u.failTimeout))) return 'upstream.failTimeout'
  if (u.keepalive !== undefined && !isInt(u.keepalive, 0, 10000)) return 'upstream.keepalive'
  return null
}

/** Endpoints routed by nginx: running and not unhealthy (invariant 5). Tombstones never. */
export function isLive (e: EndpointRecord): boolean {
  return e.removed !== true && e.state === 'running' && e.health !== 'unhealthy'
}

function compareServers (a: UpstreamServer, b: UpstreamServer): number {
  const ka = ipKey(a.ip); const kb = ipKey(b.ip)
  if (ka !== kb) return ka - kb
  if (a.port !== b.port) return a.port - b.port
  return a.containerId < b.containerId ? -1 : a.containerId > b.containerId ? 1 : 0
}

function ipKey (ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0)
}

function upstreamOf (name: string, rec: ServiceRecord | undefined): UpstreamModel {
  const u = rec?.spec.upstream ?? {}
  return {
    name,
    method: u.method ?? UPSTREAM_DEFAULTS.method,
    maxFails: u.maxFails ?? UPSTREAM_DEFAULTS.maxFails,
    failTimeout: u.failTimeout ?? UPSTREAM_DEFAULTS.failTimeout,
    keepalive: u.keepalive ?? UPSTREAM_DEFAULTS.keepalive,
    servers: [],
    defaulted: rec == null,
  }
}

/** Peers per service batch.lua accepts (M.MAX_PEERS): backups beyond it are left out, never the batch refused. */
export const MAX_PEERS = 1000

/** nginx refuses `backup` with hash, ip_hash and random: those get the failover site only when the local set is empty. */
export function backupAllowed (method: BalanceMethod): boolean {
  return method === 'round_robin' || method === 'least_conn'
}

/** The first failover site (in the spec's order) with routable endpoints, validated like local ones. */
function failoverServers (up: UpstreamModel, rec: ServiceRecord | undefined, remote: RemoteSource | undefined, invalid: InvalidRecord[]): { site: string, servers: UpstreamServer[] } | null {
  const sites = rec?.spec.failover?.sites
  if (sites === undefined || remote === undefined) return null
  for (const site of sites) {
    const servers: UpstreamServer[] = []
    for (const e of remote(site, up.name)) {
      if (e.service !== up.name || !isLive(e)) continue
      const problem = endpointProblem(e)
      if (problem != null) { invalid.push({ key: `${site}:${e.service}.${e.containerId}`, reason: `remote endpoint: ${problem}` }); continue }
      servers.push({ ip: e.ip, port: e.port, weight: e.weight, containerId: e.containerId })
    }
    if (servers.length > 0) return { site, servers: servers.sort(compareServers) }
  }
  return null
}

/**
 * Builds the model. A service appears when it has a spec or any endpoint
 * record (tombstones included, so an upstream that an operator's config
 * references does not vanish the moment its last container goes: it answers
 * 503 instead). Same input in any order → same model.
 */
export function buildModel (endpoints: Iterable<[string, EndpointRecord]>, services: Iterable<[string, ServiceRecord]>, remote?: RemoteSource): BuildResult {
  const invalid: InvalidRecord[] = []
  const specs = new Map<string, ServiceRecord>()
  for (const [key, rec] of services) {
    const problem = serviceProblem(rec)
    if (problem != null) { invalid.push({ key, reason: `service: ${problem}` }); continue }
    if (rec.spec.name !== key) { invalid.push({ key, reason: 'service: key does not match spec name' }); continue }
    specs.set(key, rec)
  }
  const byName = new Map<string, UpstreamModel>()
  for (const [name, rec] of specs) byName.set(name, upstreamOf(name, rec))
  for (const [key, e] of endpoints) {
    if (e == null || !isDnsLabel(e.service) || !isContainerId(e.containerId)) {
      invalid.push({ key, reason: 'endpoint: name' }); continue
    }
    let up = byName.get(e.service)
    if (up == null) { up = upstreamOf(e.service, undefined); byName.set(e.service, up) }
    if (!isLive(e)) continue
    const problem = endpointProblem(e)
    if (problem != null) { invalid.push({ key, reason: `endpoint: ${problem}` }); continue }
    up.servers.push({ ip: e.ip, port: e.port, weight: e.weight, containerId: e.containerId })
  }
  const list = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const containers: string[] = []
  for (const up of list) {
    up.servers.sort(compareServers)
    const fo = failoverServers(up, specs.get(up.name), remote, invalid)
    if (fo !== null && up.servers.length === 0) { up.servers = fo.servers; up.failedOver = fo.site }
    else if (fo !== null) { up.backups = fo.servers.slice(0, Math.max(0, MAX_PEERS - up.servers.length)); if (specs.get(up.name)?.spec.failover?.mode === 'spill') up.spill = true }
    for (const s of up.servers) containers.push(s.containerId)
  }
  containers.sort()
  return { model: { services: list, containers }, invalid }
}

/**
 * What of an endpoint record can change the rendered files. A container's
 * start produces several upserts (network connect, start, health...) that
 * differ only in seq/updatedAt: those must not wake the coalescer, or each
 * would stretch its quiet window.
 */
export function endpointRenderKey (e: EndpointRecord | undefined): string {
  if (e == null) return ''
  if (!isLive(e)) return `${e.service}|-`
  return `${e.service}|${e.ip}|${e.port}|${e.weight}|${e.containerId}`
}

export function serviceRenderKey (r: ServiceRecord | undefined): string {
  return r == null ? '' : `${r.spec.name}|${JSON.stringify(r.spec.upstream ?? {})}|${JSON.stringify(r.spec.failover ?? null)}`
}
