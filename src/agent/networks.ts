// Which networks are MacVLAN: `docker network inspect` driver, cached per
// network id (a network's driver never changes; ids are never reused).
import type Dockerode from 'dockerode'
import type { Logger } from '../core/index.js'
import type { InspectNetwork } from './endpoint.js'

export class MacvlanNetworks {
  private readonly drivers = new Map<string, string>()
  private readonly inflight = new Map<string, Promise<string | undefined>>()

  constructor (private readonly docker: Dockerode, private readonly log: Logger) {}

  /** Records a driver learnt elsewhere (network list, a network event's `type` attribute). */
  learn (id: string, driver: string): void {
    if (id !== '' && driver !== '') this.drivers.set(id, driver)
  }

  /** Loads every network in one call (at start and after a Docker reconnect). */
  async refresh (): Promise<void> {
    const list = await this.docker.listNetworks() as Array<{ Id: string, Driver: string }>
    for (const n of list) this.learn(n.Id, n.Driver)
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

  private async driver (id: string): Promise<string | undefined> {
    const known = this.drivers.get(id)
    if (known !== undefined) return known
    let p = this.inflight.get(id)
    if (p == null) {
      p = this.docker.getNetwork(id).inspect().then((n: { Driver?: string }) => {
        if (typeof n.Driver === 'string') this.drivers.set(id, n.Driver)
        return n.Driver
      }, (err: Error) => {
        this.log.debug({ network: id, err: err.message }, 'network inspect failed')
        return undefined
      }).finally(() => this.inflight.delete(id))
      this.inflight.set(id, p)
    }
    return await p
  }
}
