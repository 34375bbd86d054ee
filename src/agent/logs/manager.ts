// Starts a follower for every running driftgate-labelled container on this
// host (from Docker events and from listings after every (re)attach) and
// stops them on close. Lines stay in the stream after their container is gone.
import type Dockerode from 'dockerode'
import type { NatsConnection } from 'nats'
import { Counter, Gauge, type Registry } from 'prom-client'
import { isDnsLabel, type Logger } from '../../core/index.js'
import { decodeJson, LOG_STREAM, type Subjects } from '../../bus/index.js'
import type { DockerEvent } from '../docker/events.js'
import { intInRange, LABEL } from '../docker/labels.js'
import { cursorOfBatch } from './cursor.js'
import { Follower } from './follower.js'
import type { LogBatch } from './record.js'
import { Shipper } from './shipper.js'

export interface LogBudgets {
  /** Memory for batches waiting while NATS is away, all containers together. */
  bufferBytes: number
  /** Lines per second per container, and the burst above it. */
  ratePerSecond: number
  rateBurst: number
  batchDelayMs: number
  batchBytes: number
}

export const DEFAULT_LOG_BUDGETS: LogBudgets = {
  bufferBytes: 64 * 1024 * 1024, ratePerSecond: 10_000, rateBurst: 20_000, batchDelayMs: 100, batchBytes: 64 * 1024,
}

const RETRY_MS = 2000

export interface LogManagerOptions {
  nc: NatsConnection
  docker: Dockerode
  subjects: Subjects
  host: string
  log: Logger
  metrics: Registry
  budgets: LogBudgets
}

function shipperMetrics (r: Registry): ConstructorParameters<typeof Shipper>[0]['metrics'] {
  const lines = new Counter({ name: 'driftgate_agent_log_lines_shipped_total', help: 'Log lines stored in DRIFTGATE_LOGS (markers included)', registers: [r] })
  const bytes = new Counter({ name: 'driftgate_agent_log_bytes_shipped_total', help: 'Log bytes stored in DRIFTGATE_LOGS', registers: [r] })
  const dropped = new Counter({ name: 'driftgate_agent_log_lines_dropped_total', help: 'Log lines dropped, by reason (rate: per-container limit; buffer: NATS away and the buffer full)', labelNames: ['reason'], registers: [r] })
  const buffered = new Gauge({ name: 'driftgate_agent_log_buffer_bytes', help: 'Log bytes waiting for JetStream', registers: [r] })
  const failed = new Counter({ name: 'driftgate_agent_log_publish_failures_total', help: 'Log batch publishes that failed (retried)', registers: [r] })
  return {
    shipped: (n, b) => { lines.inc(n); bytes.inc(b) },
    dropped: (reason, n) => { dropped.inc({ reason }, n) },
    buffered: (b) => { buffered.set(b) },
    publishFailed: () => { failed.inc() },
  }
}

export class LogManager {
  private readonly followers = new Map<string, Follower | undefined>()
  private readonly shipper: Shipper
  private closed = false

  constructor (private readonly o: LogManagerOptions) {
    this.shipper = new Shipper({ js: o.nc.jetstream({ timeout: 5000 }), log: o.log, budgetBytes: o.budgets.bufferBytes, metrics: shipperMetrics(o.metrics) })
  }

  onEvent (ev: DockerEvent): void {
    if (ev.Type === 'container' && ev.Action === 'start' && ev.Actor.Attributes?.[LABEL.service] !== undefined) void this.follow(ev.Actor.ID)
  }

  /** Follows every running labelled container not followed yet (after every Docker (re)attach). */
  async resync (): Promise<void> {
    const list = await this.o.docker.listContainers({ filters: { label: [LABEL.service], status: ['running'] } })
    await Promise.all(list.map(async (c) => { await this.follow(c.Id) }))
  }

  private async follow (id: string): Promise<void> {
    if (this.closed || this.followers.has(id)) return
    this.followers.set(id, undefined) // claimed: a start event and a listing at once make one follower
    try {
      const info = await this.o.docker.getContainer(id).inspect()
      const labels = info.Config.Labels ?? {}
      const service = labels[LABEL.service]
      if (!isDnsLabel(service) || !info.State.Running || this.closed) { this.followers.delete(id); return }
      const replica = intInRange(labels[LABEL.replica] ?? '', 0, 100000)
      const container = id.slice(0, 12)
      const subject = this.o.subjects.logs(service, this.o.host, container)
      const channel = this.shipper.channel(subject, { v: 1, service, host: this.o.host, container, ...(replica !== undefined ? { replica } : {}) })
      const f = new Follower(id, {
        docker: this.o.docker, shipper: this.shipper, channel, log: this.o.log, tty: info.Config.Tty,
        readCursor: async () => await this.readCursor(subject),
        batch: { maxDelayMs: this.o.budgets.batchDelayMs, maxBytes: this.o.budgets.batchBytes },
        rate: { perSecond: this.o.budgets.ratePerSecond, burst: this.o.budgets.rateBurst },
      })
      this.followers.set(id, f)
      void f.done.then(() => { if (this.followers.get(id) === f) this.followers.delete(id); this.shipper.forget(subject) })
      await f.start()
    } catch (err) {
      this.followers.delete(id)
      this.o.log.warn({ container: id.slice(0, 12), err: (err as Error).message }, 'logs: cannot follow container yet, retrying')
      // NATS away (no cursor) or Docker busy: try again; follow() drops a container that no longer runs.
      if (!this.closed) setTimeout(() => { void this.follow(id) }, RETRY_MS).unref()
    }
  }

  /**
   * The stream's last batch for a subject (JetStream direct get, last by
   * subject); undefined when the stream has nothing for it. Throws while NATS is away.
   */
  private async readCursor (subject: string): Promise<ReturnType<typeof cursorOfBatch>> {
    const r = await this.o.nc.request(`$JS.API.DIRECT.GET.${LOG_STREAM}.${subject}`, new Uint8Array(0), { timeout: 5000 })
    const code = r.headers?.code ?? 0
    if (code === 404) return undefined
    if (code >= 400) throw new Error(`direct get ${subject}: ${code} ${r.headers?.description ?? ''}`)
    const d = decodeJson(r.data)
    return d.ok ? cursorOfBatch(d.value as LogBatch) : undefined
  }

  get following (): number { return [...this.followers.values()].filter((f) => f !== undefined).length }

  /** Stops following, then waits up to `ms` for queued batches to be stored. */
  async close (ms: number): Promise<void> {
    this.closed = true
    for (const f of this.followers.values()) f?.stop()
    await this.shipper.flushed(ms)
    this.shipper.close()
  }
}
