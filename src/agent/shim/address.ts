// Where a shim's address comes from. A network whose IPAM driver is ours:
// allocated like a container's (allocate with the shim's deterministic MAC,
// then bound to the shim's pseudo container id, which the agent's snapshots
// list so the leak collector keeps it), released on a clean shutdown. Any
// other network: `--shim-address <network>=<ip>`, or no shim (warned once).
import type Dockerode from 'dockerode'
import { ConfigError, isIPv4, type PoolRecord } from '../../core/index.js'
import type { IpamCall } from '../ipam/client.js'
import { shimContainerId, shimMac } from './naming.js'

export interface ShimNetwork {
  id: string
  name: string
  parent: string
  subnet: string
  /** Docker's --ip-range, when set. */
  ipRange?: string
  ipamDriver: string
}

export interface ShimAddress {
  ip: string
  /** Routed through the shim: the container range (pool start-end or --ip-range), else the subnet. */
  range?: string
  /** Set when IPAM holds it (released on close). */
  pool?: string
  mac: string
  containerId: string
}

interface NetworkInfo {
  Id?: string
  Name?: string
  Driver?: string
  Options?: Record<string, string> | null
  IPAM?: { Driver?: string, Config?: Array<{ Subnet?: string, IPRange?: string }> | null } | null
}

/** The IPv4 MacVLAN networks of this dockerd, with what a shim needs (parent, subnet). */
export async function listShimNetworks (docker: Dockerode): Promise<ShimNetwork[]> {
  const list = await docker.listNetworks({ filters: { driver: ['macvlan'] } }) as NetworkInfo[]
  const out: ShimNetwork[] = []
  for (const n of list) {
    const cfg = (n.IPAM?.Config ?? []).find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'))
    const parent = n.Options?.parent
    // No parent: Docker made a dummy link for it; nothing on the wire to share.
    if (n.Driver !== 'macvlan' || n.Id === undefined || cfg?.Subnet === undefined || parent === undefined || parent === '') continue
    out.push({
      id: n.Id, name: n.Name ?? n.Id, parent, subnet: cfg.Subnet,
      ...(cfg.IPRange !== undefined && cfg.IPRange !== '' ? { ipRange: cfg.IPRange } : {}),
      ipamDriver: n.IPAM?.Driver ?? '',
    })
  }
  return out
}

/** `--shim-address <network>=<ip>` entries → network name → ip. */
export function parseShimAddresses (entries: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const e of entries) {
    const i = e.lastIndexOf('=')
    const ip = e.slice(i + 1)
    if (i < 1 || !isIPv4(ip)) throw new ConfigError('agent', [{ field: 'shimAddress', message: `${JSON.stringify(e)} is not <network>=<ipv4>` }])
    out.set(e.slice(0, i), ip)
  }
  return out
}

export interface AddressSource {
  host: string
  /** Our IPAM driver's name (undefined: the agent serves no IPAM driver). */
  ipamDriverName?: string
  ipam?: IpamCall
  static: ReadonlyMap<string, string>
}

/**
 * The shim's address on `n`, or a reason there is none. IPAM is asked with
 * the deterministic MAC, so a second call (another check, a restarted agent)
 * gets the same address back while it is held.
 */
export async function shimAddress (src: AddressSource, n: ShimNetwork): Promise<ShimAddress | { skip: string }> {
  const mac = shimMac(src.host, n.id)
  const containerId = shimContainerId(src.host, n.id)
  const wanted = src.static.get(n.name) ?? src.static.get(n.id)
  const ours = src.ipamDriverName !== undefined && n.ipamDriver === src.ipamDriverName && src.ipam !== undefined
  if (!ours) {
    if (wanted === undefined) {
      return { skip: `network ${n.name} gets its addresses from IPAM driver "${n.ipamDriver || 'default'}", not driftgate's: give the shim one with --shim-address ${n.name}=<ip> (outside the container range), or no shim is made and this host cannot reach its own containers on it` }
    }
    return { ip: wanted, mac, containerId, ...(n.ipRange !== undefined ? { range: n.ipRange } : {}) }
  }
  const call = src.ipam as IpamCall
  const pool = (await call('pool', { v: 1, subnet: n.subnet })).pool as PoolRecord
  const got = await call('allocate', { v: 1, pool: pool.name, host: src.host, mac, ...(wanted !== undefined ? { ip: wanted } : {}) })
  const ip = got.ip as string
  await call('bind', { v: 1, host: src.host, mac, containerId, ip, pool: pool.name })
  return { ip, mac, containerId, pool: pool.name, range: `${pool.start}-${pool.end}` }
}

/** Gives an IPAM-held shim address back (quarantined, then free). */
export async function releaseShimAddress (src: AddressSource, a: ShimAddress): Promise<void> {
  if (a.pool === undefined || src.ipam === undefined) return
  await src.ipam('release', { v: 1, pool: a.pool, ip: a.ip, host: src.host, mac: a.mac, container: a.containerId })
}
