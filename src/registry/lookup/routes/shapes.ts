// Response shapes shared by the read routes: JSON schemas (documentation and
// fast serialisation) and the projections that build them from KV records.
import type { EndpointRecord, ServiceRecord } from '../../../core/index.js'
import { DNS_LABEL_PATTERN, hostRecordSchema, serviceSpecSchema } from '../../../core/index.js'
import type { LookupView, ServiceEntry } from '../view.js'

export const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 } },
  required: ['name'],
} as const

const publicEndpoint = {
  type: 'object',
  properties: {
    containerId: { type: 'string' },
    name: { type: 'string' },
    host: { type: 'string' },
    ip: { type: 'string' },
    port: { type: 'integer' },
    weight: { type: 'integer' },
    state: { type: 'string' },
    health: { type: 'string' },
    network: { type: 'string' },
    replica: { type: 'integer' },
    managed: { type: 'boolean' },
    // only on another site's endpoints (failover answers, issue 21)
    site: { type: 'string' },
    stale: { type: 'boolean' },
  },
  required: ['containerId', 'host', 'ip', 'port', 'weight', 'state', 'health'],
} as const

export const endpointsResponse = {
  type: 'object',
  properties: {
    service: { type: 'string' },
    index: { type: 'integer' },
    endpoints: { type: 'array', items: publicEndpoint },
  },
  required: ['service', 'index', 'endpoints'],
} as const

const counts = {
  type: 'object',
  properties: { healthy: { type: 'integer' }, total: { type: 'integer' } },
  required: ['healthy', 'total'],
} as const

const serviceSummary = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    index: { type: 'integer' },
    version: { type: ['integer', 'null'] },
    endpoints: counts,
  },
  required: ['name', 'index', 'version', 'endpoints'],
} as const

export const servicesResponse = {
  type: 'object',
  properties: { services: { type: 'array', items: serviceSummary } },
  required: ['services'],
} as const

export const serviceResponse = {
  type: 'object',
  properties: {
    ...serviceSummary.properties,
    spec: { anyOf: [{ type: 'null' }, { ...serviceSpecSchema, additionalProperties: true }] },
    updatedAt: { type: ['number', 'null'] },
  },
  required: [...serviceSummary.required, 'spec'],
} as const

export const hostsResponse = {
  type: 'object',
  properties: { hosts: { type: 'array', items: hostRecordSchema } },
  required: ['hosts'],
} as const

export interface PublicEndpoint {
  containerId: string, name?: string, host: string, ip: string, port: number, weight: number,
  state: string, health: string, network: string, replica?: number, managed?: boolean, site?: string, stale?: boolean
}

export function publicEndpointOf (e: EndpointRecord): PublicEndpoint {
  const out: PublicEndpoint = {
    containerId: e.containerId, host: e.host, ip: e.ip, port: e.port, weight: e.weight,
    state: e.state, health: e.health, network: e.network,
  }
  if (e.name !== undefined) out.name = e.name
  if (e.replica !== undefined) out.replica = e.replica
  if (e.managed !== undefined) out.managed = e.managed
  const remote = e as { site?: string, stale?: boolean }
  if (remote.site !== undefined) { out.site = remote.site; out.stale = remote.stale === true }
  return out
}

export function summaryOf (view: LookupView, name: string, entry: ServiceEntry | undefined, rec: ServiceRecord | undefined):
{ name: string, index: number, version: number | null, endpoints: { healthy: number, total: number } } {
  return {
    name,
    index: entry?.index ?? 0,
    version: rec?.version ?? null,
    endpoints: { healthy: entry !== undefined ? view.healthy(entry).length : 0, total: entry?.endpoints.size ?? 0 },
  }
}
