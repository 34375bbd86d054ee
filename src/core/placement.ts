// Placement values in KV (DESIGN section 3): one assignment per replica in
// `driftgate_assignments` `<host>.<service>.<replica>`, and the placement
// leader's lease in `driftgate_leases` `placement`.
import { isDnsLabel } from './names.js'
import { checker } from './validate.js'
import { label } from './schema-parts.js'

/** Value of `driftgate_assignments` `<host>.<service>.<replica>`. */
export interface AssignmentRecord {
  v: 1
  host: string
  service: string
  replica: number
  /** ServiceRecord.version the assignment was computed from. */
  specVersion: number
  /** specHash(spec): a change means the agent replaces the container (rolling update). */
  specHash: string
  /** When the replica was assigned to this host, ms since epoch. */
  since: number
  /**
   * Bumped by placement to replace an unhealthy replica (issue 19): the agent
   * treats a container of another incarnation like one of an older spec
   * (start new, drain old). Absent means 0.
   */
  incarnation?: number
  /** When placement replaced this replica (ms since epoch), newest last, at most MAX_REPLACED_AT. */
  replacedAt?: number[]
}

export const MAX_REPLACED_AT = 16

export const MAX_REPLICA = 10_000

export const assignmentRecordSchema = {
  type: 'object',
  required: ['v', 'host', 'service', 'replica', 'specVersion', 'specHash', 'since'],
  properties: {
    v: { const: 1 },
    host: label,
    service: label,
    replica: { type: 'integer', minimum: 0, maximum: MAX_REPLICA },
    specVersion: { type: 'integer', minimum: 1 },
    specHash: { type: 'string', pattern: '^[a-f0-9]{8,64}$' },
    since: { type: 'number', minimum: 0 },
    incarnation: { type: 'integer', minimum: 0, maximum: 1e9 },
    replacedAt: { type: 'array', maxItems: MAX_REPLACED_AT, items: { type: 'number', minimum: 0 } },
  },
  additionalProperties: false,
} as const

/**
 * Value of `driftgate_leases` `placement`. nats-server 2.9 has no per-key TTL,
 * so the expiry travels in the value and every contender reads it.
 */
export interface LeaseRecord {
  v: 1
  holder: string
  /** ms since epoch after which another contender may take the lease. */
  expiresAt: number
  acquiredAt: number
  renewedAt: number
}

export const leaseRecordSchema = {
  type: 'object',
  required: ['v', 'holder', 'expiresAt', 'acquiredAt', 'renewedAt'],
  properties: {
    v: { const: 1 },
    holder: { type: 'string', minLength: 1, maxLength: 128 },
    expiresAt: { type: 'number', minimum: 0 },
    acquiredAt: { type: 'number', minimum: 0 },
    renewedAt: { type: 'number', minimum: 0 },
  },
  additionalProperties: false,
} as const

export const checkAssignmentRecord = checker<AssignmentRecord>('assignment record', assignmentRecordSchema)
export const checkLeaseRecord = checker<LeaseRecord>('lease record', leaseRecordSchema)

export function assignmentKey (a: { host: string, service: string, replica: number }): string {
  return `${a.host}.${a.service}.${a.replica}`
}

/** The parts of an assignment key, or null when the key is not one. */
export function parseAssignmentKey (key: string): { host: string, service: string, replica: number } | null {
  const parts = key.split('.')
  if (parts.length !== 3) return null
  const [host, service, r] = parts
  if (!isDnsLabel(host) || !isDnsLabel(service) || !/^\d{1,5}$/.test(r)) return null
  const replica = Number(r)
  return replica <= MAX_REPLICA ? { host, service, replica } : null
}
