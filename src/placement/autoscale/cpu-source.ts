// The registry's view of container CPU: the last report of every host on
// `<prefix>.stats.host.*` (core NATS, every registry instance listens, so
// any one can show the figures and a new placement leader has them at once).
// A report whose payload names another host than its subject is refused and
// counted; a report older than three of its host's intervals is ignored.
import type { NatsConnection, Subscription } from 'nats'
import { Counter, type Registry } from 'prom-client'
import { checkHostStats, type HostStatsMessage, type Logger } from '../../core/index.js'
import { decodeJson, lastToken } from '../../bus/index.js'

/** What the autoscaler asks: the CPU percent of each live replica of a service. */
export interface CpuSource {
  /** Replicas with index below `replicas` only: a replica being scaled away still reports while it drains. */
  cpu: (service: string, replicas: number) => number[]
}

interface Report { msg: HostStatsMessage, receivedAt: number }

export class HostStatsCollector implements CpuSource {
  private readonly reports = new Map<string, Report>()
  private sub?: Subscription
  private readonly refused: Counter<'reason'>

  constructor (private readonly o: { nc: NatsConnection, subject: string, log: Logger, metrics: Registry, now?: () => number }) {
    const existing = o.metrics.getSingleMetric('driftgate_autoscale_stats_refused_total')
    this.refused = (existing as Counter<'reason'> | undefined) ?? new Counter({
      name: 'driftgate_autoscale_stats_refused_total',
      help: 'Host stats messages refused: invalid, or naming another host than their subject (host_mismatch)',
      labelNames: ['reason'],
      registers: [o.metrics],
    })
  }

  private now (): number { return (this.o.now ?? Date.now)() }

  start (): void {
    this.sub = this.o.nc.subscribe(this.o.subject, { callback: (err, m) => { if (err === null) this.take(m.subject, m.data) } })
  }

  /** One message as it arrives (exported for tests). */
  take (subject: string, data: Uint8Array): void {
    const d = decodeJson(data)
    if (!d.ok || checkHostStats.problems(d.value) !== null) { this.refuse('invalid', subject); return }
    const msg = d.value as HostStatsMessage
    if (msg.host !== lastToken(subject)) { this.refuse('host_mismatch', subject); return }
    this.reports.set(msg.host, { msg, receivedAt: this.now() })
  }

  private refuse (reason: string, subject: string): void {
    this.refused.inc({ reason })
    this.o.log.debug({ subject, reason }, 'host stats refused')
  }

  cpu (service: string, replicas: number): number[] {
    const now = this.now()
    const out: number[] = []
    for (const [host, r] of this.reports) {
      if (now - r.receivedAt > 3 * r.msg.intervalMs) { this.reports.delete(host); continue }
      for (const c of r.msg.containers) {
        if (c.service === service && (c.replica === undefined || c.replica < replicas)) out.push(c.cpuPercent)
      }
    }
    return out
  }

  close (): void { this.sub?.unsubscribe(); this.sub = undefined }
}
