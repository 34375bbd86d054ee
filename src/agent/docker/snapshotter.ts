// Full snapshots: at start, after every Docker or NATS reconnect, after a
// failed publish, and every resync interval. Requests coalesce: while one is
// being taken, any number of new requests cause exactly one more. A failed
// snapshot is retried with backoff until it is acknowledged.
import type Dockerode from 'dockerode'
import type { Logger } from '../../core/index.js'
import { backoffDelay, Sleeper } from '../../core/index.js'
import type { ContainerListItem } from './endpoint.js'
import type { EventHandler } from './handler.js'
import type { Reservations } from './reservations.js'
import type { AgentMetrics } from '../metrics.js'
import type { MacvlanNetworks } from './networks.js'
import type { Publisher } from '../publisher.js'
import { applyOverrides, buildSnapshot } from './snapshot.js'

export interface SnapshotTakerOptions {
  docker: Dockerode
  networks: MacvlanNetworks
  reservations: Reservations
  handler: EventHandler
  publisher: Publisher
  metrics: AgentMetrics
  log: Logger
  defaultNetwork?: string
  intervalMs: number
  ensureStream: () => Promise<void>
  /** After the snapshot was handed to NATS: every listed container (the IPAM binder). */
  onListed?: (items: ContainerListItem[]) => void
  /** Ids listed as containers beside Docker's: the MacVLAN shims' IPAM bindings (kept by the leak collector). */
  extraContainers?: () => string[]
}

export class SnapshotTaker {
  private running?: Promise<void>
  private pending?: string
  private timer?: NodeJS.Timeout
  private closed = false
  private readonly sleeper = new Sleeper()

  constructor (private readonly o: SnapshotTakerOptions) {}

  /** Asks for a snapshot; resolves once the snapshots in progress or asked for are done. */
  async request (why: string): Promise<void> {
    if (this.closed) return
    if (this.running != null) {
      this.pending = why
      await this.running
      return
    }
    this.running = this.loop(why).finally(() => { this.running = undefined })
    await this.running
  }

  async settled (): Promise<void> { await this.running }

  startTimer (): void {
    this.timer = setInterval(() => { void this.request('resync') }, this.o.intervalMs)
  }

  private async loop (first: string): Promise<void> {
    let why = first
    for (let attempt = 0; !this.closed;) {
      this.pending = undefined
      try {
        await this.take(why)
        attempt = 0
      } catch (err) {
        attempt++
        const delayMs = backoffDelay(attempt)
        this.o.log.warn({ why, attempt, delayMs, err: (err as Error).message }, 'snapshot failed, retrying')
        await this.sleeper.sleep(delayMs)
        this.pending ??= why
      }
      if (this.pending === undefined) return
      why = this.pending
    }
  }

  private async take (why: string): Promise<void> {
    const { docker, networks, handler, publisher } = this.o
    handler.startRecording()
    let seq: number
    let acked: Promise<boolean>
    let size: number
    try {
      await networks.refresh()
      const items = await docker.listContainers({ all: true }) as unknown as ContainerListItem[]
      if (this.closed) return
      const listed = buildSnapshot(items, { macvlan: networks.knownMacvlan(), defaultNetwork: this.o.defaultNetwork, healthOf: handler.healthOf }, handler.draining)
      this.o.reservations.resetRunning(items.filter((i) => i.State === 'running' || i.State === 'paused').map((i) => i.Id))
      // Events handled while listing are at least as new as the list: they win.
      const body = applyOverrides(listed, handler.stopRecording())
      ;({ seq, acked } = publisher.publishSnapshot(body.endpoints, [...body.containers, ...this.o.extraContainers?.() ?? []]))
      size = body.endpoints.length
      handler.adoptSnapshot(body)
      this.o.onListed?.(items)
    } finally {
      handler.stopRecording()
    }
    if (!await acked) {
      await this.o.ensureStream().catch(() => {})
      throw new Error('snapshot not acknowledged by JetStream')
    }
    this.o.metrics.lastSnapshotSize.set(size)
    this.o.log.info({ why, seq, endpoints: size }, 'snapshot published')
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    this.sleeper.wakeAll()
    await this.running?.catch(() => {})
  }
}
