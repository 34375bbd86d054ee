// IPAM block records (issue 20): `<pool>.blk-<n>` in `driftgate_ipam` holds
// every allocation of addresses network + n·size … network + (n+1)·size − 1
// of a pool created with a block size, and the lease of the allocator that
// hands addresses out of it. One compare-and-set on the block commits many
// allocations at once; the revision, not the lease, is what keeps two
// allocators from giving one address twice.
import { allocationRecordSchema, type AllocationRecord } from './ipam.js'
import { label, time } from './schema-parts.js'
import { checker } from './validate.js'

/** Which allocator prefers this block until when: steers, never guards. */
export interface BlockLease { holder: string, until: number }

export interface BlockRecord {
  v: 1
  pool: string
  index: number
  lease?: BlockLease
  /** Sorted by address; a free address has no entry. */
  entries: AllocationRecord[]
}

export const blockRecordSchema = {
  type: 'object',
  required: ['v', 'pool', 'index', 'entries'],
  properties: {
    v: { const: 1 },
    pool: label,
    index: { type: 'integer', minimum: 0, maximum: 16_777_215 },
    lease: {
      type: 'object',
      required: ['holder', 'until'],
      properties: { holder: { type: 'string', minLength: 1, maxLength: 64 }, until: time },
      additionalProperties: false,
    },
    entries: { type: 'array', items: allocationRecordSchema, maxItems: 256 },
  },
  additionalProperties: false,
} as const

export const checkBlockRecord = checker<BlockRecord>('ipam block record', blockRecordSchema)

/** The block without its entries' schema: the mirror checks only entries that changed since its last copy. */
export const blockEnvelopeSchema = {
  ...blockRecordSchema,
  properties: { ...blockRecordSchema.properties, entries: { type: 'array', maxItems: 256 } },
} as const

export const checkBlockEnvelope = checker<BlockRecord>('ipam block record', blockEnvelopeSchema)

const BLOCK_KEY = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)\.blk-(\d{1,8})$/

/** KV key of a block: `mv0.blk-3`. Address keys end in dashed digits, so the two never meet. */
export function blockKey (pool: string, index: number): string { return `${pool}.blk-${index}` }

export function parseBlockKey (key: string): { pool: string, index: number } | null {
  const m = BLOCK_KEY.exec(key)
  return m == null ? null : { pool: m[1], index: Number(m[3]) }
}
