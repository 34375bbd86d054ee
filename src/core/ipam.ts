// IPAM wire format (DESIGN section 3, issue 7): pool records and allocation
// records in `driftgate_ipam`, and the request/reply messages on
// `driftgate.ipam.<host>.<op>`. Every one is validated before use.
import { containerId, ipv4, label, mac, time } from './schema-parts.js'
import { checker } from './validate.js'

export type AllocationState = 'reserved' | 'bound' | 'quarantined'

export interface IpamOwner { host: string, mac: string, container?: string }

/** Value of `driftgate_ipam` `pool.<pool>`. Addresses are dotted IPv4; start..end inclusive. */
export interface PoolRecord {
  v: 1
  name: string
  /** Network in CIDR form, host bits zero: `10.240.1.0/24`. */
  subnet: string
  /** First and last allocatable address (the range). */
  start: string
  end: string
  gateway: string
  /** Never handed out (besides network, broadcast and gateway). */
  reserved: string[]
  createdAt: number
  /**
   * Block layout (issue 20): allocations live in block records of this many
   * addresses (`<pool>.blk-<n>`), written many at a time. Absent: one key per
   * address. An allocator that does not know the field refuses the record
   * (additionalProperties: false), so it never writes per-address keys into a
   * block pool.
   */
  blockSize?: number
}

/** Value of `driftgate_ipam` `<pool>.<ip with dashes>`. A free address has no key. */
export interface AllocationRecord {
  v: 1
  pool: string
  ip: string
  state: AllocationState
  owner: IpamOwner
  /** When the record entered its current state (ms since epoch). */
  since: number
  /** Consecutive owner snapshots that did not list the bound container. */
  missed?: number
  /** Why it was quarantined: released, reserve-expired, container-gone, host-down. */
  reason?: string
}

/** Ops on `driftgate.ipam.<host>.<op>`. */
export const IpamOps = { pool: 'pool', allocate: 'allocate', bind: 'bind', release: 'release' } as const

/** Look a pool up by name or by subnet (Docker's RequestPool gives the subnet). */
export interface PoolQuery { v: 1, pool?: string, subnet?: string }
export interface AllocateRequest { v: 1, pool: string, host: string, mac: string, ip?: string }
/** `ip` and `mac` locate the record (the agent reads both from the container's network settings). */
export interface BindRequest { v: 1, host: string, mac: string, containerId: string, ip: string, pool?: string }
export interface ReleaseRequest { v: 1, pool: string, ip: string, host: string, mac?: string, container?: string }

export type IpamReply =
  | { ok: true, pool?: PoolRecord, ip?: string, prefix?: number, gateway?: string, record?: AllocationRecord, noop?: boolean }
  | { ok: false, code: string, error: string }

const cidr = { type: 'string', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$' } as const

export const poolRecordSchema = {
  type: 'object',
  required: ['v', 'name', 'subnet', 'start', 'end', 'gateway', 'reserved', 'createdAt'],
  properties: {
    v: { const: 1 },
    name: label,
    subnet: cidr,
    start: ipv4,
    end: ipv4,
    gateway: ipv4,
    reserved: { type: 'array', items: ipv4, maxItems: 4096 },
    createdAt: time,
    blockSize: { enum: [16, 32, 64, 128, 256] },
  },
  additionalProperties: false,
} as const

const owner = {
  type: 'object',
  required: ['host', 'mac'],
  properties: { host: label, mac, container: containerId },
  additionalProperties: false,
} as const

export const allocationRecordSchema = {
  type: 'object',
  required: ['v', 'pool', 'ip', 'state', 'owner', 'since'],
  properties: {
    v: { const: 1 },
    pool: label,
    ip: ipv4,
    state: { enum: ['reserved', 'bound', 'quarantined'] },
    owner,
    since: time,
    missed: { type: 'integer', minimum: 0 },
    reason: { type: 'string', maxLength: 64 },
  },
  additionalProperties: false,
} as const

export const poolQuerySchema = {
  type: 'object',
  required: ['v'],
  properties: { v: { const: 1 }, pool: label, subnet: cidr },
  additionalProperties: false,
} as const

export const allocateRequestSchema = {
  type: 'object',
  required: ['v', 'pool', 'host', 'mac'],
  properties: { v: { const: 1 }, pool: label, host: label, mac, ip: ipv4 },
  additionalProperties: false,
} as const

export const bindRequestSchema = {
  type: 'object',
  required: ['v', 'host', 'mac', 'containerId', 'ip'],
  properties: { v: { const: 1 }, host: label, mac, containerId, ip: ipv4, pool: label },
  additionalProperties: false,
} as const

export const releaseRequestSchema = {
  type: 'object',
  required: ['v', 'pool', 'ip', 'host'],
  properties: { v: { const: 1 }, pool: label, ip: ipv4, host: label, mac, container: containerId },
  additionalProperties: false,
} as const

export const checkPoolRecord = checker<PoolRecord>('ipam pool record', poolRecordSchema)
export const checkAllocationRecord = checker<AllocationRecord>('ipam allocation record', allocationRecordSchema)
export const checkPoolQuery = checker<PoolQuery>('ipam pool query', poolQuerySchema)
export const checkAllocateRequest = checker<AllocateRequest>('ipam allocate request', allocateRequestSchema)
export const checkBindRequest = checker<BindRequest>('ipam bind request', bindRequestSchema)
export const checkReleaseRequest = checker<ReleaseRequest>('ipam release request', releaseRequestSchema)

/** KV key of a pool record. */
export function poolKey (pool: string): string { return `pool.${pool}` }
/** KV key of one address: `mv0.10-240-1-5`. */
export function addressKey (pool: string, ip: string): string { return `${pool}.${ip.replace(/\./g, '-')}` }
