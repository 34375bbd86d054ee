// Keeps one MacVLAN shim per MacVLAN network of the local dockerd: a macvlan
// link in bridge mode on the network's parent, with an address of the pool
// and routes to the containers through it, because a host cannot reach its
// own MacVLAN containers through the parent itself. Checked at start and
// every interval (a shim deleted or changed by hand is back within one
// check), removed with its address released on close().
import type Dockerode from 'dockerode'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Logger } from '../../core/index.js'
import { listShimNetworks, releaseShimAddress, shimAddress, type AddressSource, type ShimAddress, type ShimNetwork } from './address.js'
import { applyAction, readMacvlanLinks, runIp, type IpRunner } from './ip.js'
import { shimName, shimRoutes } from './naming.js'
import { decideShims, type DesiredShim } from './plan.js'

export interface ShimManagerOptions {
  docker: Dockerode
  log: Logger
  metrics: Registry
  address: AddressSource
  intervalMs: number
  ip?: IpRunner
  /** After every check: the shims' addresses now (network name → ip). */
  onAddresses?: (addresses: ReadonlyMap<string, string>) => Promise<void> | void
}

export class ShimManager {
  private readonly held = new Map<string, ShimAddress>()
  private readonly skipped = new Set<string>()
  private readonly owned = new Set<string>()
  private addresses = new Map<string, string>()
  private timer?: NodeJS.Timeout
  private running?: Promise<void>
  private again = false
  private closed = false
  private readonly steps: Counter<'op'>
  private readonly failures: Counter
  private readonly ip: IpRunner

  constructor (private readonly o: ShimManagerOptions) {
    this.ip = o.ip ?? runIp
    this.steps = new Counter({ name: 'driftgate_agent_shim_steps_total', help: 'iproute2 steps run to create or repair MacVLAN shims, by op', labelNames: ['op'], registers: [o.metrics] })
    this.failures = new Counter({ name: 'driftgate_agent_shim_check_failures_total', help: 'shim checks that failed (retried at the next check)', registers: [o.metrics] })
    const shims = (): number => this.addresses.size
    new Gauge({ name: 'driftgate_agent_shims', help: 'MacVLAN shims in place', registers: [o.metrics], collect () { this.set(shims()) } })
  }

  async start (): Promise<void> {
    await this.check()
    this.timer = setInterval(() => { void this.check() }, this.o.intervalMs)
  }

  /** Network name → shim address, for containers' resolver. */
  addressOf (network: string): string | undefined { return this.addresses.get(network) }

  /** Pseudo container ids the shims' addresses are bound to (listed in snapshots). */
  containerIds (): string[] { return [...this.held.values()].filter((a) => a.pool !== undefined).map((a) => a.containerId) }

  /** One check; concurrent calls coalesce into one more. Never throws. */
  async check (): Promise<void> {
    if (this.closed) return
    if (this.running !== undefined) { this.again = true; await this.running; return }
    this.running = (async () => {
      do {
        this.again = false
        try { await this.once() } catch (err) {
          this.failures.inc()
          this.o.log.warn({ err: (err as Error).message }, 'shim check failed, retrying at the next one')
        }
      } while (this.again && !this.closed)
    })().finally(() => { this.running = undefined })
    await this.running
  }

  private async desired (nets: ShimNetwork[]): Promise<Array<DesiredShim & { network: string }>> {
    const out: Array<DesiredShim & { network: string }> = []
    for (const n of nets) {
      let a = this.held.get(n.id)
      if (a === undefined) {
        const got = await shimAddress(this.o.address, n).catch((err: Error) => ({ skip: `no address for the shim of ${n.name}: ${err.message}` }))
        if ('skip' in got) {
          if (!this.skipped.has(n.id)) this.o.log.warn({ network: n.name }, got.skip)
          this.skipped.add(n.id)
          continue
        }
        a = got
        this.held.set(n.id, a)
        this.skipped.delete(n.id)
      }
      const name = shimName(this.o.address.host, n.id)
      out.push({ network: n.name, name, parent: n.parent, mac: a.mac, address: a.ip, routes: shimRoutes(n.subnet, a.range) })
    }
    return out
  }

  private async once (): Promise<void> {
    const nets = await listShimNetworks(this.o.docker)
    await this.releaseGone(new Set(nets.map((n) => n.id)))
    const desired = await this.desired(nets)
    const actions = decideShims(desired, await readMacvlanLinks(this.ip), this.owned)
    for (const d of desired) this.owned.add(d.name)
    for (const a of actions) {
      await applyAction(a, this.ip)
      this.steps.inc({ op: a.op })
      if (a.op === 'del-link' && !desired.some((d) => d.name === a.name)) this.owned.delete(a.name)
    }
    if (actions.length > 0) this.o.log.info({ steps: actions.map((a) => `${a.op} ${a.name}`) }, 'shims repaired')
    this.addresses = new Map(desired.map((d) => [d.network, d.address]))
    await this.o.onAddresses?.(this.addresses)
  }

  /** Addresses of networks that no longer exist go back to IPAM. */
  private async releaseGone (present: Set<string>): Promise<void> {
    for (const [id, a] of [...this.held]) {
      if (present.has(id)) continue
      this.held.delete(id)
      await releaseShimAddress(this.o.address, a).catch((err: Error) => { this.o.log.warn({ ip: a.ip, err: err.message }, 'shim address not released') })
    }
  }

  /** Removes every shim this agent made and releases their addresses. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    await this.running
    for (const name of this.owned) {
      await applyAction({ op: 'del-link', name }, this.ip).catch((err: Error) => { this.o.log.warn({ link: name, err: err.message }, 'shim not removed') })
    }
    this.owned.clear()
    for (const a of this.held.values()) {
      await releaseShimAddress(this.o.address, a).catch((err: Error) => { this.o.log.warn({ ip: a.ip, err: err.message }, 'shim address not released') })
    }
    this.held.clear()
    this.addresses = new Map()
  }
}
