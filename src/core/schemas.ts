// JSON schemas of every message and KV value (DESIGN section 3). Names and
// addresses are constrained here, so a hostile container label is rejected
// before it can reach a subject, a key or a template.
import { INSTANCE_PATTERN } from './instance.js'
import { containerId, endpointIp, ipv4, label, mac, seq, time } from './schema-parts.js'
import { MAX_LABEL_HOSTS, routeHostSchema, routePathSchema } from './spec-routes.js'

const instance = { type: 'string', pattern: INSTANCE_PATTERN } as const
const labels = {
  type: 'object',
  maxProperties: 64,
  propertyNames: { pattern: '^[a-zA-Z0-9._/-]{1,128}$' },
  additionalProperties: { type: 'string', maxLength: 256 },
} as const

export const endpointInfoSchema = {
  type: 'object',
  required: ['service', 'containerId', 'ip', 'mac', 'port', 'network', 'state', 'health', 'weight'],
  properties: {
    service: label,
    containerId,
    name: { type: 'string', maxLength: 128, pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$' },
    ip: endpointIp,
    mac,
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    network: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$' },
    state: { enum: ['running', 'draining', 'paused'] },
    health: { enum: ['healthy', 'unhealthy', 'starting', 'none'] },
    weight: { type: 'integer', minimum: 1, maximum: 100 },
    managed: { type: 'boolean' },
    replica: { type: 'integer', minimum: 0, maximum: 10000 },
    specHash: { type: 'string', pattern: '^[a-f0-9]{8,64}$' },
    // edge routes of a container not started by placement (labels driftgate.hosts
    // and driftgate.path, issue 16); optional, so records without them stay valid
    hosts: { type: 'array', minItems: 1, maxItems: MAX_LABEL_HOSTS, items: routeHostSchema },
    path: routePathSchema,
  },
  additionalProperties: false,
} as const

const removedRef = {
  type: 'object',
  required: ['service', 'containerId'],
  properties: { service: label, containerId },
} as const

export const eventSchema = {
  type: 'object',
  required: ['v', 'kind', 'host', 'instance', 'seq', 'time', 'sentAt', 'endpoint'],
  properties: {
    v: { const: 1 },
    kind: { enum: ['upsert', 'remove'] },
    host: label,
    instance,
    seq,
    time,
    sentAt: time,
    cause: { type: 'string', maxLength: 64 },
    endpoint: { type: 'object' },
  },
  if: { properties: { kind: { const: 'upsert' } } },
  then: { properties: { endpoint: endpointInfoSchema } },
  else: { properties: { endpoint: removedRef } },
  additionalProperties: false,
} as const

export const snapshotSchema = {
  type: 'object',
  required: ['v', 'host', 'instance', 'seq', 'time', 'sentAt', 'endpoints', 'containers'],
  properties: {
    v: { const: 1 },
    host: label,
    instance,
    seq,
    time,
    sentAt: time,
    endpoints: { type: 'array', maxItems: 10000, items: endpointInfoSchema },
    containers: { type: 'array', maxItems: 20000, items: containerId },
  },
  additionalProperties: false,
} as const

const capacity = {
  type: 'object',
  required: ['cpus', 'memoryBytes'],
  properties: { cpus: { type: 'number', minimum: 0 }, memoryBytes: { type: 'number', minimum: 0 } },
  additionalProperties: false,
} as const
const allocated = {
  type: 'object',
  required: ['cpus', 'memoryBytes', 'containers'],
  properties: {
    cpus: { type: 'number', minimum: 0 },
    memoryBytes: { type: 'number', minimum: 0 },
    containers: { type: 'integer', minimum: 0 },
  },
  additionalProperties: false,
} as const

export const heartbeatSchema = {
  type: 'object',
  required: ['v', 'host', 'instance', 'sentAt', 'capacity', 'allocated', 'labels'],
  properties: {
    v: { const: 1 }, host: label, instance, sentAt: time, address: ipv4, capacity, allocated, labels,
  },
  additionalProperties: false,
} as const

// A tombstone (`removed: true`) may lack the address fields: a removal can be
// the first thing the registry ever hears of a container.
export const endpointRecordSchema = {
  type: 'object',
  required: ['v', 'service', 'containerId', 'host', 'instance', 'seq', 'updatedAt'],
  if: { not: { required: ['removed'], properties: { removed: { const: true } } } },
  then: { required: endpointInfoSchema.required },
  properties: {
    ...endpointInfoSchema.properties,
    v: { const: 1 }, host: label, instance, seq, updatedAt: time, removed: { type: 'boolean' },
  },
  additionalProperties: false,
} as const

export const hostRecordSchema = {
  type: 'object',
  required: ['v', 'host', 'instance', 'capacity', 'allocated', 'labels', 'lastSeen', 'status', 'since'],
  properties: {
    v: { const: 1 },
    host: label,
    address: ipv4,
    instance,
    capacity,
    allocated,
    labels,
    lastSeen: time,
    status: { enum: ['up', 'suspect', 'down'] },
    since: time,
  },
  additionalProperties: false,
} as const

export const appliedSchema = {
  type: 'object',
  required: ['v', 'renderer', 'generation', 'endpointsRevision', 'appliedAt'],
  properties: {
    v: { const: 1 },
    renderer: label,
    generation: seq,
    endpointsRevision: seq,
    containers: { type: 'array', items: containerId, maxItems: 100000 },
    count: { type: 'integer', minimum: 0 },
    appliedAt: time,
  },
  additionalProperties: false,
} as const
