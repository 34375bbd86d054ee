// Names, MACs and routes of the MacVLAN shim, derived from (host, network)
// alone so that a restarted agent finds the same interface, asks IPAM with
// the same MAC (and so gets the same address back) and never needs a state
// file. Pure.
import { createHash } from 'node:crypto'
import { cidrText, intToIp, ipToInt, parseCidr, parseRange } from '../../core/index.js'

/** Our links: `dg-` + 12 hex (15 characters, the kernel's limit). */
export const SHIM_NAME = /^dg-[0-9a-f]{12}$/

const digest = (kind: string, host: string, network: string): string =>
  createHash('sha256').update(`driftgate-shim|${kind}|${host}|${network}`).digest('hex')

/** Interface name of the shim of `network` (its Docker id) on `host`. */
export function shimName (host: string, network: string): string {
  return `dg-${digest('name', host, network).slice(0, 12)}`
}

/**
 * MAC of the shim: locally administered unicast (first octet 0x06), so it
 * never equals a vendor MAC nor Docker's 02:42:… ones. IPAM keys an
 * allocation by (host, MAC): the same MAC on every start means the same
 * address, and no container ever has it.
 */
export function shimMac (host: string, network: string): string {
  const h = digest('mac', host, network)
  return ['06', h.slice(0, 2), h.slice(2, 4), h.slice(4, 6), h.slice(6, 8), h.slice(8, 10)].join(':')
}

/**
 * The "container id" the shim's address is bound to in IPAM. The agent lists
 * it in its snapshots beside the real containers, so the leak collector keeps
 * the address for as long as the shim exists (64 hex, like a Docker id).
 */
export function shimContainerId (host: string, network: string): string {
  return digest('container', host, network)
}

/**
 * The CIDRs that cover [start, end] exactly (fewest blocks), at most `max`
 * of them (a pathological range is cut short rather than flooding the table).
 */
export function rangeCidrs (start: string, end: string, max = 64): string[] {
  let a = ipToInt(start)
  const b = ipToInt(end)
  const out: string[] = []
  while (a <= b && out.length < max) {
    let prefix = 32
    // Grow the block while it stays aligned on `a` and inside the range.
    while (prefix > 0) {
      const size = 2 ** (32 - prefix + 1)
      if (a % size !== 0 || a + size - 1 > b) break
      prefix--
    }
    out.push(`${intToIp(a)}/${prefix}`)
    a += 2 ** (32 - prefix)
  }
  return out
}

/**
 * Routes through the shim for a network: its container range (Docker's
 * --ip-range, or the driftgate pool's start-end), else the subnet. A route
 * equal to the subnet would clash with the parent's own connected route, so
 * the subnet is split in two halves: more specific, so they win.
 */
export function shimRoutes (subnet: string, range?: string): string[] {
  const s = parseCidr(subnet)
  if (s == null) return []
  const r = range !== undefined ? parseRange(range) : null
  const start = r?.start ?? s.network
  const end = r?.end ?? s.broadcast
  const cidrs = rangeCidrs(intToIp(start), intToIp(end))
  if (cidrs.length === 1 && cidrs[0] === cidrText(s) && s.prefix < 32) {
    const half = s.size / 2
    return [`${intToIp(s.network)}/${s.prefix + 1}`, `${intToIp(s.network + half)}/${s.prefix + 1}`]
  }
  return cidrs
}
