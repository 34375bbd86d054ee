// The testbed LAN: a bridge in the root namespace plus one network namespace
// per host, joined by a veth whose inner end becomes the host's eth0. Only
// names and subnets this harness allocated are ever touched: subnets come
// from 10.240.0.0/13 and the machine's own eth0 is never referenced.
// Not the /12 of DESIGN section 7: on this machine the resolver lives at
// 10.255.255.53, inside 10.240.0.0/12, and an unreachable route for the /12
// cuts off DNS (npm, apt). The /13 (10.240-10.247) keeps clear of it.
import { existsSync, writeFileSync } from 'node:fs'
import { run, tryRun } from './exec.js'
import { readRecords } from './state.js'

export const TESTBED_RANGE = '10.240.0.0/13'
const SLOTS = 2048

/**
 * A stray packet to a torn-down testbed is refused locally instead of
 * leaving through the default route. Idempotent and left in place.
 */
export async function ensureSafetyNet(): Promise<void> {
  // A leftover /12 net from older runs would cut off the resolver: drop it.
  await tryRun('ip', ['route', 'del', 'unreachable', '10.240.0.0/12'])
  await run('ip', ['route', 'replace', 'unreachable', TESTBED_RANGE])
}

/** Bridged frames must not be filtered by iptables (another dockerd may have loaded br_netfilter). */
export function disableBridgeNf(): void {
  const key = '/proc/sys/net/bridge/bridge-nf-call-iptables'
  if (existsSync(key)) writeFileSync(key, '0')
}

/** /24 number n (0..2047) inside 10.240.0.0/13 as "10.a.b.0/24". */
function nthSubnet(n: number): string {
  return `10.${240 + (n >> 8)}.${n & 255}.0/24`
}

const prefix24 = (cidr: string): string => cidr.split('.').slice(0, 3).join('.')

/** Every /24 already in use in the root namespace or claimed by a record. */
async function usedPrefixes(): Promise<Set<string>> {
  const used = new Set<string>()
  const routes = await run('ip', ['-4', 'route', 'show', 'table', 'all'])
  const addrs = await run('ip', ['-4', '-o', 'addr', 'show'])
  for (const m of (routes + addrs).matchAll(/\b(10\.\d+\.\d+)\.\d+(\/(\d+))?/g)) {
    if (m[0] !== TESTBED_RANGE) used.add(m[1])
  }
  for (const r of readRecords()) if (r.kind === 'testbed') used.add(prefix24(r.subnet))
  return used
}

/**
 * Picks a free /24 for testbed `id`, starting at a slot derived from the id so
 * concurrent testbeds rarely even probe the same one. Call under withLock().
 */
export async function pickSubnet(id: string): Promise<string> {
  const used = await usedPrefixes()
  const start = parseInt(id, 16) % SLOTS
  for (let i = 0; i < SLOTS; i++) {
    const candidate = nthSubnet((start + i) % SLOTS)
    if (!used.has(prefix24(candidate))) return candidate
  }
  throw new Error('no free /24 left in 10.240.0.0/13')
}

/** "10.a.b.0/24", 7 → "10.a.b.7" */
export const hostAddr = (subnet: string, last: number): string => `${prefix24(subnet)}.${last}`

export async function linkExists(name: string): Promise<boolean> {
  return (await tryRun('ip', ['link', 'show', 'dev', name])).ok
}

export async function createBridge(bridge: string, gatewayCidr: string): Promise<void> {
  await run('ip', ['link', 'add', bridge, 'type', 'bridge'])
  await run('ip', ['addr', 'add', gatewayCidr, 'dev', bridge])
  await run('ip', ['link', 'set', bridge, 'up'])
}

/** A namespace with lo up and eth0 = inner end of a veth plugged into bridge. */
export async function createHostNs(ns: string, veth: string, bridge: string, addrCidr: string, gateway: string): Promise<void> {
  const peer = veth + 'p' // temporary name until it is inside the namespace
  await run('ip', ['netns', 'add', ns])
  await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer])
  await run('ip', ['link', 'set', veth, 'master', bridge, 'up'])
  await run('ip', ['link', 'set', peer, 'netns', ns])
  await run('ip', ['-n', ns, 'link', 'set', peer, 'name', 'eth0'])
  await run('ip', ['-n', ns, 'addr', 'add', addrCidr, 'dev', 'eth0'])
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', gateway])
}

/** Idempotent removal; a missing namespace or link is not an error. */
export async function deleteNet(namespaces: string[], links: string[]): Promise<void> {
  for (const ns of namespaces) {
    if (existsSync(`/run/netns/${ns}`)) await run('ip', ['netns', 'del', ns])
  }
  for (const link of links) {
    // Deleting a namespace destroys the veth pair too; check before deleting.
    if (await linkExists(link)) await tryRun('ip', ['link', 'del', link])
  }
  const left = []
  for (const link of links) if (await linkExists(link)) left.push(link)
  if (left.length) throw new Error(`links left behind: ${left.join(', ')}`)
}

export async function listNetns(): Promise<string[]> {
  const out = await tryRun('ip', ['netns', 'list'])
  return out.stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean)
}

export async function listLinks(): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show'])
  return out.split('\n').map((l) => l.split(': ')[1]?.split('@')[0]).filter((n): n is string => !!n)
}
