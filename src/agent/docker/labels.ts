// Container labels read by the agent (DESIGN section 2). Pure: a label map in,
// typed values or the reason they are rejected out. A hostile label such as
// `driftgate.service="x;}server{listen 1"` stops here, before any subject,
// key or template can see it.
import { MAX_LABEL_HOSTS, isDnsLabel, normaliseHost, routeHostProblem, routePathProblem } from '../../core/index.js'

export const LABEL = {
  service: 'driftgate.service',
  port: 'driftgate.port',
  network: 'driftgate.network',
  weight: 'driftgate.weight',
  managed: 'driftgate.managed',
  replica: 'driftgate.replica',
  spec: 'driftgate.spec',
  hosts: 'driftgate.hosts',
  path: 'driftgate.path',
} as const

/** Why a labelled container is not published (value of the `reason` metric label). */
export type RejectReason =
  | 'invalid_service' | 'invalid_port' | 'invalid_weight' | 'invalid_network_label'
  | 'invalid_replica' | 'invalid_spec' | 'invalid_container' | 'invalid_hosts' | 'invalid_path'
  | 'no_macvlan_network' | 'ambiguous_network' | 'network_not_attached' | 'no_ip' | 'bad_ip'

export interface ParsedLabels {
  service: string
  port: number
  weight: number
  /** The network named by `driftgate.network`, if any. */
  network?: string
  managed?: boolean
  replica?: number
  specHash?: string
  /** Edge routes (issue 16): lower-cased host names, and a path prefix. */
  hosts?: string[]
  path?: string
}

export type LabelResult =
  | { ok: true, labels: ParsedLabels }
  | { ok: false, reason: RejectReason, message: string, service?: string }

const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/
const SPEC_HASH = /^[a-f0-9]{8,64}$/
const show = (v: string): string => JSON.stringify(v.slice(0, 80))

/** A strict decimal integer in [min, max], else undefined ("08", "1e3", " 5" are refused). */
export function intInRange (raw: string, min: number, max: number): number | undefined {
  if (!/^[1-9]\d{0,5}$|^0$/.test(raw)) return undefined
  const n = Number(raw)
  return n >= min && n <= max ? n : undefined
}

/** True when the container carries the label that asks for registration at all. */
export function hasServiceLabel (labels: Record<string, string> | null | undefined): boolean {
  return labels != null && typeof labels[LABEL.service] === 'string'
}

/** Parses driftgate.* labels. Call only when hasServiceLabel() is true. */
export function parseLabels (labels: Record<string, string>): LabelResult {
  const service = labels[LABEL.service]
  if (!isDnsLabel(service)) {
    return { ok: false, reason: 'invalid_service', message: `label ${LABEL.service}=${show(String(service))} is not a DNS label` }
  }
  const fail = (reason: RejectReason, label: string, why: string): LabelResult =>
    ({ ok: false, reason, service, message: `label ${label}=${show(labels[label])} ${why}` })

  let port = 80
  if (labels[LABEL.port] !== undefined) {
    const p = intInRange(labels[LABEL.port], 1, 65535)
    if (p === undefined) return fail('invalid_port', LABEL.port, 'is not a port (1-65535)')
    port = p
  }
  let weight = 1
  if (labels[LABEL.weight] !== undefined) {
    const w = intInRange(labels[LABEL.weight], 1, 100)
    if (w === undefined) return fail('invalid_weight', LABEL.weight, 'is not a weight (1-100)')
    weight = w
  }
  const out: ParsedLabels = { service, port, weight }
  const network = labels[LABEL.network]
  if (network !== undefined && network !== '') {
    if (!NETWORK_NAME.test(network)) return fail('invalid_network_label', LABEL.network, 'is not a network name')
    out.network = network
  }
  if (labels[LABEL.managed] !== undefined) out.managed = labels[LABEL.managed] === 'true'
  if (labels[LABEL.replica] !== undefined) {
    const r = intInRange(labels[LABEL.replica], 0, 10000)
    if (r === undefined) return fail('invalid_replica', LABEL.replica, 'is not a replica number (0-10000)')
    out.replica = r
  }
  if (labels[LABEL.spec] !== undefined) {
    if (!SPEC_HASH.test(labels[LABEL.spec])) return fail('invalid_spec', LABEL.spec, 'is not a spec hash (8-64 hex chars)')
    out.specHash = labels[LABEL.spec]
  }
  const routes = parseRouteLabels(labels)
  if (routes !== null && 'reason' in routes) return fail(routes.reason, routes.label, routes.why)
  if (routes !== null) Object.assign(out, routes)
  return { ok: true, labels: out }
}

type RouteLabels = { hosts: string[], path?: string } | { reason: RejectReason, label: string, why: string } | null

/**
 * `driftgate.hosts=a.example.com,www.a.example.com` and `driftgate.path=/api`,
 * checked by the same rules as a spec's routes (core/spec-routes.ts). A bad
 * one skips the container, like every other bad driftgate label.
 */
export function parseRouteLabels (labels: Record<string, string>): RouteLabels {
  const rawHosts = labels[LABEL.hosts]
  const rawPath = labels[LABEL.path]
  if (rawHosts === undefined || rawHosts.trim() === '') {
    if (rawPath === undefined || rawPath === '') return null
    return { reason: 'invalid_path', label: LABEL.path, why: `needs ${LABEL.hosts} (a path is a prefix under a host name)` }
  }
  const hosts = [...new Set(rawHosts.split(',').map((h) => normaliseHost(h.trim())))].sort()
  if (hosts.length > MAX_LABEL_HOSTS) return { reason: 'invalid_hosts', label: LABEL.hosts, why: `names more than ${MAX_LABEL_HOSTS} hosts` }
  for (const h of hosts) {
    const problem = routeHostProblem(h)
    if (problem !== null) return { reason: 'invalid_hosts', label: LABEL.hosts, why: `has ${show(h)}: ${problem}` }
  }
  if (rawPath === undefined || rawPath === '') return { hosts }
  const problem = routePathProblem(rawPath)
  if (problem !== null) return { reason: 'invalid_path', label: LABEL.path, why: `is ${problem}` }
  return { hosts, path: rawPath }
}
