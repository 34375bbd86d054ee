// Docker's remote IPAM protocol (libnetwork docs/ipam.md) mapped onto the
// registry's allocator. One method per endpoint; each takes Docker's JSON
// body and returns Docker's JSON answer, or throws (the server turns that
// into `{"Err": "..."}`).
import { DriftgateError, ErrorCodes, isIPv4, MAC_PATTERN, type PoolRecord } from '../../core/index.js'
import type { IpamCall } from './client.js'

export const GATEWAY_TYPE = 'com.docker.network.gateway'
export const MAC_OPTION = 'com.docker.network.endpoint.macaddress'
const MAC = new RegExp(MAC_PATTERN)

type Body = Record<string, unknown>
type Options = Record<string, string>

function str (v: unknown): string { return typeof v === 'string' ? v : '' }
function opts (v: unknown): Options { return v != null && typeof v === 'object' ? v as Options : {} }

function fail (message: string): never { throw new DriftgateError(ErrorCodes.IPAM, message) }

export class IpamDriverLogic {
  /** MAC of each address this driver handed out: a release names its owner, so a replay cannot free someone else's address. */
  private readonly macs = new Map<string, string>()
  private readonly pools = new Map<string, PoolRecord>()

  constructor (private readonly host: string, private readonly call: IpamCall) {}

  activate (): Body { return { Implements: ['IpamDriver'] } }

  capabilities (): Body { return { RequiresMACAddress: true, RequiresRequestReplay: false } }

  addressSpaces (): Body {
    return { LocalDefaultAddressSpace: 'driftgate-local', GlobalDefaultAddressSpace: 'driftgate-global' }
  }

  async requestPool (b: Body): Promise<Body> {
    if (b.V6 === true) fail('driftgate IPAM serves IPv4 pools only: create the network without --ipv6')
    const subnet = str(b.Pool)
    if (subnet === '') fail('driftgate IPAM needs --subnet: give the subnet of a pool (see driftgate ipam pool ls)')
    const reply = await this.call('pool', { v: 1, subnet })
    const pool = reply.pool as PoolRecord
    const sub = str(b.SubPool)
    if (sub !== '') {
      fail(`--ip-range is not supported by driftgate IPAM: the range of pool ${pool.name} is ${pool.start}-${pool.end} ` +
        '(set with driftgate ipam pool add --range)')
    }
    this.pools.set(pool.name, pool)
    return { PoolID: pool.name, Pool: pool.subnet, Data: {} }
  }

  releasePool (_b: Body): Body { return {} }

  private async pool (id: string): Promise<PoolRecord> {
    if (id === '') fail('RequestAddress without a PoolID')
    const reply = await this.call('pool', { v: 1, pool: id })
    const pool = reply.pool as PoolRecord
    this.pools.set(pool.name, pool)
    return pool
  }

  private prefix (pool: PoolRecord): string { return pool.subnet.split('/')[1] }

  async requestAddress (b: Body): Promise<Body> {
    const id = str(b.PoolID)
    const o = opts(b.Options)
    const wanted = str(b.Address)
    if (wanted !== '' && !isIPv4(wanted)) fail(`requested address "${wanted}" is not an IPv4 address`)
    if (o.RequestAddressType === GATEWAY_TYPE) {
      // The gateway belongs to the pool: answer it, allocate nothing.
      const pool = await this.pool(id)
      if (wanted !== '' && wanted !== pool.gateway) {
        fail(`gateway ${wanted} does not match pool ${pool.name}'s gateway ${pool.gateway}: leave --gateway out`)
      }
      return { Address: `${pool.gateway}/${this.prefix(pool)}`, Data: {} }
    }
    const mac = str(o[MAC_OPTION]).toLowerCase()
    if (mac === '') {
      // Docker asks for --aux-address entries without a MAC: only reserved addresses qualify.
      const pool = this.pools.get(id) ?? await this.pool(id)
      if (wanted !== '' && pool.reserved.includes(wanted)) return { Address: `${wanted}/${this.prefix(pool)}`, Data: {} }
      fail('driftgate IPAM needs the endpoint MAC address (Docker sends it because the driver requires it); ' +
        'auxiliary addresses must be reserved in the pool (driftgate ipam pool add --reserve)')
    }
    if (!MAC.test(mac)) fail(`endpoint MAC "${mac}" is malformed`)
    const reply = await this.call('allocate', { v: 1, pool: id, host: this.host, mac, ...(wanted !== '' ? { ip: wanted } : {}) })
    const ip = reply.ip as string
    this.macs.set(`${id}/${ip}`, mac)
    return { Address: `${ip}/${String(reply.prefix)}`, Data: {} }
  }

  async releaseAddress (b: Body): Promise<Body> {
    const id = str(b.PoolID)
    const ip = str(b.Address).split('/')[0]
    if (!isIPv4(ip)) fail(`release of "${str(b.Address)}": not an IPv4 address`)
    const pool = this.pools.get(id)
    if (pool != null && (ip === pool.gateway || pool.reserved.includes(ip))) return {} // never allocated
    const key = `${id}/${ip}`
    const mac = this.macs.get(key)
    // Without the MAC (agent restarted since the allocation) the allocator checks the host alone.
    await this.call('release', { v: 1, pool: id, ip, host: this.host, ...(mac != null ? { mac } : {}) })
    this.macs.delete(key)
    return {}
  }
}
