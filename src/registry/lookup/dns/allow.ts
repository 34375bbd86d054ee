// Which clients may use the registry's DNS as a recursive resolver (names
// outside our domain are forwarded upstream). An open forwarder is an
// amplifier and a cache-poisoning target for anyone who can reach the port,
// so forwarding is only for allowed client networks: by default loopback and
// the subnets of the IPAM pools (the containers driftgate addresses). The
// list takes CIDRs and two words: `loopback` (127.0.0.0/8) and `pools` (every
// pool in the IPAM bucket, followed live). Our own names are answered for
// everyone; only forwarding is restricted.
import type { KV } from 'nats'
import { checkPoolRecord, ConfigError, isIPv4, type FieldProblem, type Logger } from '../../../core/index.js'
import { KvTable } from '../../../bus/index.js'

export const DEFAULT_FORWARD_ALLOW = ['loopback', 'pools']

interface Cidr { base: number, mask: number }

const ipToInt = (ip: string): number => ip.split('.').reduce((n, o) => (n * 256) + Number(o), 0) >>> 0

/** "10.0.0.0/8" (or a bare address, /32) → base and mask; null when not IPv4 CIDR. */
export function parseCidr (s: string): Cidr | null {
  const m = /^([0-9.]+)(?:\/(\d{1,2}))?$/.exec(s.trim())
  if (m == null || !isIPv4(m[1])) return null
  const bits = m[2] === undefined ? 32 : Number(m[2])
  if (bits > 32) return null
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
  return { base: (ipToInt(m[1]) & mask) >>> 0, mask }
}

/** Problems of a --dns-forward-allow list (for checkLookupConfig). */
export function forwardAllowProblems (list: string[]): FieldProblem[] {
  return list.filter((e) => e !== 'loopback' && e !== 'pools' && parseCidr(e) === null)
    .map((e) => ({ field: 'dnsForwardAllow', message: `"${e.slice(0, 60)}" is not an IPv4 CIDR (a.b.c.d/n), "loopback" or "pools"` }))
}

const contains = (c: Cidr, ip: number): boolean => ((ip & c.mask) >>> 0) === c.base

/** A pool record's subnet, or null when the record is invalid (the table then ignores it). */
function poolCidr (value: unknown): Cidr | null {
  return checkPoolRecord.problems(value) === null ? parseCidr((value as { subnet: string }).subnet) : null
}

export class ForwardAllow {
  private readonly fixed: Cidr[]
  private readonly usePools: boolean
  // The pools' subnets by `pool.<name>`, a KvTable: it retries its first
  // watch, reopens it after a reconnect or a cluster change, and re-watches
  // when it ends (a raw watch stood still).
  private table?: KvTable<Cidr>

  constructor (list: string[], private readonly ipam: KV | undefined, private readonly log: Logger) {
    const problems = forwardAllowProblems(list)
    if (problems.length > 0) throw new ConfigError('registry', problems)
    this.fixed = list.flatMap((e) => e === 'pools' ? [] : [parseCidr(e === 'loopback' ? '127.0.0.0/8' : e)!])
    this.usePools = list.includes('pools')
  }

  /** Loads the pools (when `pools` is listed and there is an IPAM bucket) and follows changes. */
  async start (): Promise<void> {
    if (!this.usePools || this.ipam === undefined || this.table !== undefined) return
    const table = new KvTable<Cidr>({ kv: this.ipam, key: 'pool.>', log: this.log, decode: poolCidr })
    await table.start()
    this.table = table
  }

  /** Whether `address` (the query's source) may have names outside our domain forwarded. */
  allows (address: string): boolean {
    const a = address.startsWith('::ffff:') ? address.slice(7) : address
    if (!isIPv4(a)) return false
    const ip = ipToInt(a)
    for (const c of this.fixed) if (contains(c, ip)) return true
    for (const c of this.table?.entries.values() ?? []) if (contains(c, ip)) return true
    return false
  }

  close (): void {
    void this.table?.close()
    this.table = undefined
  }
}
