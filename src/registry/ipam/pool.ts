// Pool configuration: validation of what an operator asks for, and the
// compiled view the allocator walks. Pure.
import {
  ValidationError, isDnsLabel, isIPv4, type FieldProblem, type PoolRecord, cidrText, contains, intToIp, ipToInt, parseCidr, parseRange, type Cidr,
} from '../../core/index.js'

export interface PoolInput {
  subnet?: unknown
  range?: unknown
  gateway?: unknown
  reserve?: unknown
  /** Block layout (issue 20): addresses per block record; absent = one key per address. */
  blockSize?: unknown
}

export const BLOCK_SIZES = [16, 32, 64, 128, 256] as const

/** Subnets smaller than /30 have no room; larger than /8 make no sense on one LAN. */
const MIN_PREFIX = 8
const MAX_PREFIX = 30

function checkSubnet (subnet: unknown, problems: FieldProblem[]): Cidr | null {
  const c = typeof subnet === 'string' ? parseCidr(subnet) : null
  if (c == null) {
    problems.push({ field: '/subnet', message: 'must be an IPv4 network in CIDR form, e.g. 10.240.1.0/24' })
    return null
  }
  if (c.prefix < MIN_PREFIX || c.prefix > MAX_PREFIX) {
    problems.push({ field: '/subnet', message: `prefix length must be between /${MIN_PREFIX} and /${MAX_PREFIX}` })
    return null
  }
  if (!c.exact) {
    problems.push({ field: '/subnet', message: `${String(subnet)} has host bits set: did you mean ${cidrText(c)}?` })
    return null
  }
  return c
}

function inside (c: Cidr, n: number): boolean { return n > c.network && n < c.broadcast }

/** Validates an operator's pool request; throws ValidationError listing every problem. */
export function buildPool (name: unknown, input: PoolInput, now = Date.now()): PoolRecord {
  const problems: FieldProblem[] = []
  if (!isDnsLabel(name) || name === 'pool') {
    problems.push({ field: '/name', message: 'must be a DNS label (lowercase letters, digits, inner dashes) and not "pool"' })
  }
  const c = checkSubnet(input.subnet, problems)
  if (c == null) throw new ValidationError('ipam pool', problems)
  let start = c.network + 1
  let end = c.broadcast - 1
  if (input.range != null) {
    const r = typeof input.range === 'string' ? parseRange(input.range) : null
    if (r == null) problems.push({ field: '/range', message: 'must be a CIDR (10.240.1.128/25) or a range (10.240.1.10-10.240.1.200)' })
    else if (r.start > r.end || !contains(c, r.start) || !contains(c, r.end)) {
      problems.push({ field: '/range', message: `must lie inside ${cidrText(c)} with start <= end` })
    } else {
      start = Math.max(r.start, c.network + 1)
      end = Math.min(r.end, c.broadcast - 1)
    }
  }
  let gateway = c.network + 1
  if (input.gateway != null) {
    if (!isIPv4(input.gateway) || !inside(c, ipToInt(input.gateway))) {
      problems.push({ field: '/gateway', message: `must be a host address inside ${cidrText(c)}` })
    } else gateway = ipToInt(input.gateway)
  }
  const reserved = new Set<number>()
  const list = input.reserve == null ? [] : Array.isArray(input.reserve) ? input.reserve : [input.reserve]
  for (const ip of list) {
    if (!isIPv4(ip) || !contains(c, ipToInt(ip))) problems.push({ field: '/reserve', message: `${String(ip)} is not an address inside ${cidrText(c)}` })
    else reserved.add(ipToInt(ip))
  }
  if (input.blockSize != null && !(BLOCK_SIZES as readonly unknown[]).includes(input.blockSize)) {
    problems.push({ field: '/blockSize', message: `must be one of ${BLOCK_SIZES.join(', ')}` })
  }
  if (problems.length === 0 && countFree(start, end, c, gateway, reserved) === 0) {
    problems.push({ field: '/range', message: 'leaves no allocatable address once gateway and reserved addresses are excluded' })
  }
  if (problems.length > 0) throw new ValidationError('ipam pool', problems)
  return {
    v: 1,
    name: name as string,
    subnet: cidrText(c),
    start: intToIp(start),
    end: intToIp(end),
    gateway: intToIp(gateway),
    reserved: [...reserved].sort((a, b) => a - b).map(intToIp),
    createdAt: now,
    ...(input.blockSize != null ? { blockSize: input.blockSize as number } : {}),
  }
}

function countFree (start: number, end: number, c: Cidr, gateway: number, reserved: Set<number>): number {
  let n = end - start + 1
  for (const x of new Set([gateway, ...reserved, c.network, c.broadcast])) if (x >= start && x <= end) n--
  return n
}

/** Two records describe the same pool (createdAt aside): re-adding one is a no-op. */
export function samePool (a: PoolRecord, b: PoolRecord): boolean {
  return a.subnet === b.subnet && a.start === b.start && a.end === b.end && a.gateway === b.gateway &&
    a.reserved.join(',') === b.reserved.join(',') && a.blockSize === b.blockSize
}

/** A pool compiled for allocation. */
export interface PoolView {
  record: PoolRecord
  cidr: Cidr
  start: number
  end: number
  gateway: number
  excluded: Set<number>
  /** Allocatable addresses. */
  size: number
}

export function viewPool (record: PoolRecord): PoolView {
  const cidr = parseCidr(record.subnet) as Cidr
  const start = ipToInt(record.start)
  const end = ipToInt(record.end)
  const gateway = ipToInt(record.gateway)
  const excluded = new Set([gateway, cidr.network, cidr.broadcast, ...record.reserved.map(ipToInt)])
  return { record, cidr, start, end, gateway, excluded, size: countFree(start, end, cidr, gateway, new Set(record.reserved.map(ipToInt))) }
}

export type StaticCheck = { ok: true } | { ok: false, reason: string }

/**
 * May this address be handed out as a requested static IP? Only inside the
 * pool's range: the rest of the subnet belongs to routers, hosts and shims
 * that driftgate does not track (Docker's own IPAM would allow any host
 * address of the subnet; issue 15 hole 8).
 */
export function checkStatic (pool: PoolView, ip: string): StaticCheck {
  const n = ipToInt(ip)
  if (!contains(pool.cidr, n)) return { ok: false, reason: `${ip} is outside pool ${pool.record.name} (${pool.record.subnet})` }
  if (n === pool.gateway) return { ok: false, reason: `${ip} is the gateway of pool ${pool.record.name}` }
  if (pool.excluded.has(n)) return { ok: false, reason: `${ip} is reserved in pool ${pool.record.name} (network, broadcast or --reserve)` }
  if (n < pool.start || n > pool.end) {
    return { ok: false, reason: `${ip} is outside the range ${pool.record.start}-${pool.record.end} of pool ${pool.record.name}: choose an --ip inside it or leave --ip out` }
  }
  return { ok: true }
}

/**
 * Candidate addresses of the range in walk order: every allocatable address
 * once, starting at `seed` modulo the range size. Different allocators start
 * at different offsets, so concurrent requests rarely race for one address.
 */
export function * candidates (pool: PoolView, seed: number): Generator<string> {
  const n = pool.end - pool.start + 1
  const offset = seed % n
  for (let i = 0; i < n; i++) {
    const x = pool.start + ((offset + i) % n)
    if (!pool.excluded.has(x)) yield intToIp(x)
  }
}
