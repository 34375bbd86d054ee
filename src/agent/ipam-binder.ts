// Marks the addresses our IPAM driver handed out as `bound` to their
// container once the agent sees the container running. Without it an address
// stays `reserved` and the registry reclaims it after the reserve grace
// (unless the container is a labelled endpoint), which would hand a live
// container's address to another one. Fire and forget: it never delays a
// publish; failures are logged and counted, and a transient failure is tried
// again at the next sighting (an event or the next snapshot).
import type Dockerode from 'dockerode'
import type { Counter } from 'prom-client'
import { DriftgateError, ErrorCodes, isContainerId, isDnsLabel, isIPv4, MAC_PATTERN, settleWithin, type Logger } from '../core/index.js'
import type { DockerEvent } from './docker-events.js'
import type { ContainerInspect, InspectNetwork } from './endpoint.js'
import { LABEL } from './labels.js'
import type { MacvlanNetworks } from './networks.js'

export interface BindRequest { host: string, mac: string, ip: string, containerId: string }

export interface IpamBinderOptions {
  docker: Dockerode
  networks: MacvlanNetworks
  /** Our driver's name: networks whose `IPAM.Driver` is this get bound. */
  driverName: string
  host: string
  log: Logger
  failed: Counter<'reason'>
  /** bindByMac, bound to the agent's NATS connection and prefix. */
  bind: (req: BindRequest) => Promise<unknown>
  /** Whether the container is known to run (network events during a start are left to the start). */
  isRunning: (id: string) => boolean
}

const MAC = new RegExp(MAC_PATTERN)

// Refusals the allocator will repeat however often it is asked: not retried.
const FINAL = new Set<string>([ErrorCodes.IPAM, ErrorCodes.IPAM_NOT_OWNER, ErrorCodes.NOT_FOUND, ErrorCodes.VALIDATION])

export class IpamBinder {
  /** Per container: the IPs bound, or being bound (a failed transient bind is dropped for a retry). */
  private readonly done = new Map<string, Set<string>>()
  private readonly tasks = new Set<Promise<void>>()
  private closed = false

  constructor (private readonly o: IpamBinderOptions) {}

  /** After the handler inspected (and published) a container. */
  fromInspect (c: ContainerInspect): void {
    if (c.State?.Running === true) this.fromNetworks(c.Id, c.NetworkSettings?.Networks)
  }

  /** Every running container of a snapshot's list: heals missed events and failed binds. */
  fromList (items: Array<{ Id: string, State?: string, NetworkSettings?: { Networks?: Record<string, InspectNetwork> | null } | null }>): void {
    for (const i of items) if (i.State === 'running' || i.State === 'paused') this.fromNetworks(i.Id, i.NetworkSettings?.Networks)
  }

  /**
   * Docker events the handler will not inspect: the start of a container
   * without a valid service label, and a connect of a running container to
   * one of our networks (an address can come without a restart).
   */
  onEvent (ev: DockerEvent): void {
    if (this.closed) return
    const attrs = ev.Actor.Attributes ?? {}
    const action = ev.Action.split(':')[0].trim()
    if (ev.Type === 'container') {
      // Docker releases the addresses when a container stops: a restart allocates anew.
      if (action === 'die' || action === 'destroy') { this.done.delete(ev.Actor.ID); return }
      if (action === 'start' && !isDnsLabel(attrs[LABEL.service] ?? '')) this.track(this.inspectAndBind(ev.Actor.ID))
    } else if (ev.Type === 'network' && action === 'connect') {
      const id = attrs.container ?? ''
      if (!this.o.isRunning(id)) return
      this.track((async () => {
        if (await this.o.networks.ipamDriver(ev.Actor.ID) === this.o.driverName) await this.inspectAndBind(id)
      })())
    }
  }

  private async inspectAndBind (id: string): Promise<void> {
    if (!isContainerId(id)) return
    try {
      this.fromInspect(await this.o.docker.getContainer(id).inspect() as unknown as ContainerInspect)
    } catch (err) {
      // Gone already: nothing to bind. Anything else: the next snapshot tries again.
      if ((err as { statusCode?: number }).statusCode !== 404) this.o.log.debug({ containerId: id, err: (err as Error).message }, 'ipam bind: inspect failed')
    }
  }

  private fromNetworks (id: string, networks: Record<string, InspectNetwork> | null | undefined): void {
    if (this.closed || !isContainerId(id)) return
    for (const [name, n] of Object.entries(networks ?? {})) {
      const ip = n.IPAddress ?? ''
      const mac = (n.MacAddress ?? '').toLowerCase()
      if (n.NetworkID == null || n.NetworkID === '' || !isIPv4(ip) || !MAC.test(mac)) continue
      const seen = this.done.get(id)
      if (seen?.has(ip) === true) continue
      if (seen == null) this.done.set(id, new Set([ip]))
      else seen.add(ip)
      this.track(this.bindIfOurs(id, n.NetworkID, name, ip, mac))
    }
  }

  private async bindIfOurs (containerId: string, networkId: string, network: string, ip: string, mac: string): Promise<void> {
    const driver = await this.o.networks.ipamDriver(networkId)
    if (driver === undefined) { this.done.get(containerId)?.delete(ip); return } // not inspectable now: next sighting
    if (driver !== this.o.driverName) return
    try {
      await this.o.bind({ host: this.o.host, mac, ip, containerId })
      this.o.log.debug({ containerId, ip, network }, 'ipam address bound')
    } catch (err) {
      const code = err instanceof DriftgateError ? err.code : 'error'
      const final = FINAL.has(code)
      this.o.failed.inc({ reason: code })
      this.o.log.warn({ containerId, ip, mac, network, code, err: (err as Error).message, retry: !final }, 'ipam bind failed')
      if (!final) this.done.get(containerId)?.delete(ip)
    }
  }

  private track (p: Promise<void>): void {
    const task = p.catch((err: Error) => { this.o.log.warn({ err: err.message }, 'ipam bind task failed') })
    this.tasks.add(task)
    void task.finally(() => this.tasks.delete(task))
  }

  /** Waits (bounded) for binds in flight. */
  async close (timeoutMs = 2000): Promise<void> {
    this.closed = true
    await settleWithin(this.tasks, timeoutMs)
  }

  /** Binds in flight (tests). */
  async idle (): Promise<void> { while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]) }
}
