// Which networks are MacVLAN (`docker network inspect` driver) and which IPAM
// driver hands out their addresses, cached per network id (a network's
// drivers never change; ids are never reused).
import type Dockerode from 'dockerode'
import type { Logger } from '../../core/index.js'
import type { InspectNetwork } from './endpoint.js'

interface NetworkInfo { Id?: string, Driver?: string, IPAM?: { Driver?: string } | null }

export class MacvlanNetworks {
  private readonly drivers = new Map<string, string>()
  /** IPAM driver per network id ('' when Docker reports none). */
  private readonly ipam = new Map<string, string>()
  private readonly inflight = new Map<string, Promise<void>>()

  constructor (private readonly docker: Dockerode, private readonly log: Logger) {}

  /** Records a driver learnt elsewhere (network list, a network event's `type` attribute). */
  learn (id: string, driver: string, ipamDriver?: string): void {
    if (id === '') return
    if (driver !== '') this.drivers.set(id, driver)
    if (ipamDriver !== undefined) this.ipam.set(id, ipamDriver)
  }

  /** Loads every network in one call (at start and after a Docker reconnect). */
  async refresh (): Promise<void> {
    const list = await this.docker.listNetworks() as NetworkInfo[]
    for (const n of list) this.learnInfo(n.Id ?? '', n)
  }

  /** The MacVLAN ids among the networks a container is attached to. */
  async macvlanOf (networks: Record<string, InspectNetwork> | null | undefined): Promise<Set<string>> {
    const ids = Object.values(networks ?? {}).map((n) => n.NetworkID ?? '').filter((id) => id !== '')
    const drivers = await Promise.all(ids.map(async (id) => [id, await this.driver(id)] as const))
    return new Set(drivers.filter(([, d]) => d === 'macvlan').map(([id]) => id))
  }

  /** Synchronous view of what is known: for snapshots built after refresh(). */
  knownMacvlan (): Set<string> {
    return new Set([...this.drivers].filter(([, d]) => d === 'macvlan').map(([id]) => id))
  }

  /** The IPAM driver of a network (undefined when it cannot be inspected). */
  async ipamDriver (id: string): Promise<string | undefined> {
    if (!this.ipam.has(id)) await this.inspect(id)
    return this.ipam.get(id)
  }

  private async driver (id: string): Promise<string | undefined> {
    if (!this.drivers.has(id)) await this.inspect(id)
    return this.drivers.get(id)
  }

  private learnInfo (id: string, n: NetworkInfo): void {
    this.learn(id, typeof n.Driver === 'string' ? n.Driver : '', typeof n.IPAM?.Driver === 'string' ? n.IPAM.Driver : '')
  }

  /** One inspect per network at a time, however many containers ask. */
  private async inspect (id: string): Promise<void> {
    let p = this.inflight.get(id)
    if (p == null) {
      p = this.docker.getNetwork(id).inspect().then((n: NetworkInfo) => { this.learnInfo(id, n) }, (err: Error) => {
        this.log.debug({ network: id, err: err.message }, 'network inspect failed')
      }).finally(() => this.inflight.delete(id))
      this.inflight.set(id, p)
    }
    await p
  }
}
