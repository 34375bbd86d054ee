// Every interval: the running managed containers of this host (label
// driftgate.managed=true), one one-shot stats call each through a small
// queue (Docker's API load stays bounded whatever the container count), and
// one message on `<prefix>.stats.host.<host>` with each one's CPU use as a
// percentage of its CPU limit. A round still running when the next is due is
// not doubled: the next one is skipped.
import type Dockerode from 'dockerode'
import type { NatsConnection } from 'nats'
import PQueue from 'p-queue'
import { Counter, type Registry } from 'prom-client'
import { MAX_STATS_CONTAINERS, type ContainerCpu, type HostStatsMessage, type Logger } from '../../core/index.js'
import { encodeJson } from '../../bus/index.js'
import { cpuPercent, sampleOf, type CpuSample, type DockerCpuStats } from './cpu.js'

export interface StatsReporterOptions {
  docker: Dockerode
  nc: NatsConnection
  subject: string
  host: string
  intervalMs: number
  log: Logger
  metrics: Registry
  /** Docker stats calls at once. */
  concurrency?: number
  /** Per stats call. */
  timeoutMs?: number
}

interface Known { service: string, replica?: number, limitCpus: number, last?: CpuSample }

export class StatsReporter {
  private timer?: NodeJS.Timeout
  private round?: Promise<void>
  private closed = false
  private readonly known = new Map<string, Known>()
  private readonly queue: PQueue
  private readonly failures: Counter<'kind'>

  constructor (private readonly o: StatsReporterOptions) {
    this.queue = new PQueue({ concurrency: o.concurrency ?? 2 })
    // One counter per registry, even when an embedding process restarts the agent on the same one.
    this.failures = (o.metrics.getSingleMetric('driftgate_agent_stats_failures_total') as Counter<'kind'> | undefined) ?? new Counter({
      name: 'driftgate_agent_stats_failures_total',
      help: 'Container stats not reported: docker calls that failed or timed out (docker), a message not sent (publish)',
      labelNames: ['kind'],
      registers: [o.metrics],
    })
  }

  start (): void {
    this.timer = setInterval(() => {
      if (this.round === undefined) this.round = this.report().finally(() => { this.round = undefined })
    }, this.o.intervalMs)
    this.timer.unref()
  }

  /** One round: sample every managed container, publish what can be compared with its last sample. */
  async report (): Promise<void> {
    let list: Dockerode.ContainerInfo[]
    try {
      list = await this.o.docker.listContainers({ filters: { label: ['driftgate.managed=true'], status: ['running'] } })
    } catch (err) {
      this.failures.inc({ kind: 'docker' })
      this.o.log.debug({ err: (err as Error).message }, 'stats: listing containers failed')
      return
    }
    const ids = new Set(list.map((c) => c.Id))
    for (const id of this.known.keys()) if (!ids.has(id)) this.known.delete(id)
    const results = await Promise.all(list.slice(0, MAX_STATS_CONTAINERS).map(async (c) =>
      await this.queue.add(async () => await this.one(c))))
    if (this.closed) return
    const containers = results.filter((r): r is ContainerCpu => r != null)
    const msg: HostStatsMessage = { v: 1, host: this.o.host, sentAt: Date.now(), intervalMs: this.o.intervalMs, containers }
    try { this.o.nc.publish(this.o.subject, encodeJson(msg)) } catch (err) {
      this.failures.inc({ kind: 'publish' })
      this.o.log.debug({ err: (err as Error).message }, 'stats: publish failed')
    }
  }

  private async one (c: Dockerode.ContainerInfo): Promise<ContainerCpu | null> {
    if (this.closed) return null
    const container = this.o.docker.getContainer(c.Id)
    const signal = AbortSignal.timeout(this.o.timeoutMs ?? 5000)
    try {
      let k = this.known.get(c.Id)
      if (k === undefined) {
        // The limit does not change while the container runs: inspected once.
        const info = await container.inspect({ abortSignal: signal } as object)
        const replica = Number(c.Labels['driftgate.replica'])
        k = { service: c.Labels['driftgate.service'] ?? '', limitCpus: (info.HostConfig?.NanoCpus ?? 0) / 1e9, ...(Number.isInteger(replica) && replica >= 0 ? { replica } : {}) }
        this.known.set(c.Id, k)
      }
      const stats = await container.stats({ stream: false, 'one-shot': true, abortSignal: signal } as object) as unknown as DockerCpuStats
      const sample = sampleOf(stats)
      const prev = k.last
      k.last = sample ?? undefined
      if (sample === null || prev === undefined || k.service === '') return null
      const pct = cpuPercent(prev, sample, k.limitCpus)
      if (pct === null) return null
      return { id: c.Id, service: k.service, ...(k.replica !== undefined ? { replica: k.replica } : {}), cpuPercent: pct, limitCpus: k.limitCpus }
    } catch (err) {
      this.failures.inc({ kind: 'docker' })
      this.o.log.debug({ container: c.Id.slice(0, 12), err: (err as Error).message }, 'stats: docker call failed')
      return null
    }
  }

  /** Idempotent: stops the timer and waits for a round in progress. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    this.queue.clear()
    await this.round
  }
}
