// The service spec (DESIGN section 5): schema, defaults, normalisation.
import { createHash } from 'node:crypto'
import { DNS_LABEL_PATTERN } from './names.js'
import { specDnsSchema } from './spec-dns.js'
import { healthSpecSchema, type HealthSpec } from './spec-health.js'
import { DURATION_PATTERN, MAX_SPEC_DURATION, SIZE_PATTERN, parseDuration, parseSize } from './duration.js'
import { routesSchema, type RouteSpec } from './spec-routes.js'
import { autoscaleSchema, type AutoscaleSpec } from './spec-autoscale.js'
import { failoverSchema, type FailoverSpec } from './spec-failover.js'
import { standbySchema, type StandbySpec } from './spec-standby.js'

// Bounds (docs/architecture.md "Spec bounds"): every value accepted here must
// also be accepted by Docker and, for upstream options, by `nginx -t`.
const duration = (min?: string) =>
  ({ type: 'string', maxLength: 32, pattern: DURATION_PATTERN, durationRange: { min, max: MAX_SPEC_DURATION } }) as const
/** nginx `fail_timeout`: whole seconds/minutes/hours (no ms, no fraction), at most 1h. */
const failTimeout = { type: 'string', maxLength: 32, nginxSeconds: true, durationRange: { max: MAX_SPEC_DURATION } } as const
/** Docker refuses a memory limit under 6 MiB; 0 means no limit. */
const MEMORY_RANGE = { min: '6Mi', max: '64Ti' }

export const serviceSpecSchema = {
  type: 'object',
  required: ['name', 'image', 'replicas', 'port', 'network'],
  properties: {
    name: { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 },
    image: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$' },
    command: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 4096 } },
    replicas: { type: 'integer', minimum: 0, maximum: 1000 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    network: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$', userNetwork: true },
    resources: {
      type: 'object',
      properties: {
        // Docker's --cpus range starts at 0.01.
        cpu: { type: 'number', minimum: 0.01, maximum: 1024 },
        memory: { type: 'string', maxLength: 32, pattern: SIZE_PATTERN, sizeRange: MEMORY_RANGE },
      },
      additionalProperties: false,
      default: {},
    },
    env: {
      type: 'object',
      maxProperties: 128,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: { type: 'string', maxLength: 8192 },
      default: {},
    },
    health: healthSpecSchema,
    upstream: {
      type: 'object',
      properties: {
        method: { enum: ['round_robin', 'least_conn', 'ip_hash', 'random'] },
        maxFails: { type: 'integer', minimum: 0, maximum: 1000 },
        failTimeout,
        keepalive: { type: 'integer', minimum: 0, maximum: 10000 },
      },
      additionalProperties: false,
      default: {},
    },
    placement: {
      type: 'object',
      properties: { spread: { type: 'string', pattern: '^[a-zA-Z0-9._/-]{1,128}$' } },
      additionalProperties: false,
      default: { spread: 'host' },
    },
    stopGracePeriod: duration(),
    dns: specDnsSchema,
    routes: routesSchema,
    autoscale: autoscaleSchema,
    failover: failoverSchema,
    standby: standbySchema,
  },
  additionalProperties: false,
} as const

export interface ServiceSpec {
  name: string
  image: string
  command?: string[]
  replicas: number
  port: number
  network: string
  resources: { cpu?: number, memory?: string }
  env: Record<string, string>
  health?: HealthSpec
  upstream: { method?: 'round_robin' | 'least_conn' | 'ip_hash' | 'random', maxFails?: number, failTimeout?: string, keepalive?: number }
  placement: { spread?: string }
  stopGracePeriod?: string
  dns?: boolean
  routes?: RouteSpec[]
  autoscale?: AutoscaleSpec
  failover?: FailoverSpec
  standby?: StandbySpec
}

/** Value of `driftgate_services` `<service>`. */
export interface ServiceRecord { v: 1, spec: ServiceSpec, version: number, updatedAt: number }

export const serviceRecordSchema = {
  type: 'object',
  required: ['v', 'spec', 'version', 'updatedAt'],
  properties: {
    v: { const: 1 },
    spec: serviceSpecSchema,
    version: { type: 'integer', minimum: 1 },
    updatedAt: { type: 'number', minimum: 0 },
  },
  additionalProperties: false,
} as const

/** What placement needs in numbers. */
export function specDemand (spec: ServiceSpec): { cpus: number, memoryBytes: number } {
  return {
    cpus: spec.resources.cpu ?? 0,
    memoryBytes: spec.resources.memory != null ? parseSize(spec.resources.memory) : 0,
  }
}

export function specGraceMs (spec: ServiceSpec): number {
  return spec.stopGracePeriod != null ? parseDuration(spec.stopGracePeriod) : 10_000
}

/**
 * Hash of what a running container is made from. `replicas`, `autoscale` and
 * `routes` are left out: a scale, a new scaling range or a new route (the
 * edge's business, issue 16) must not look like an update and restart everything.
 */
export function specHash (spec: ServiceSpec): string {
  const { replicas: _replicas, autoscale: _autoscale, routes: _routes, ...rest } = spec
  return createHash('sha256').update(stableStringify(rest)).digest('hex').slice(0, 16)
}

export function stableStringify (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`
  if (value != null && typeof value === 'object') {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export const HIDDEN = '<hidden>'

/** A spec as a caller without the write token may see it: env keys kept, values hidden (they are often secrets). */
export function redactSpec<T extends { env?: Record<string, string> }> (spec: T): T {
  if (spec.env === undefined) return spec
  return { ...spec, env: Object.fromEntries(Object.keys(spec.env).map((k) => [k, HIDDEN])) }
}
