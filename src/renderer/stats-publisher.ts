// Lua mode: every --stats-interval, read nginx's per-service counters
// (/driftgate/stats on the control channel) and publish them on
// `<prefix>.stats.renderer.<id>` for the registry's service load rates.
// A report nginx cannot give (down, restarting) is skipped, not retried:
// the next tick reads again, and counters are cumulative.
import type { NatsConnection } from 'nats'
import { Counter, type Registry } from 'prom-client'
import { LogOnce, checkRendererStats, type Logger } from '../core/index.js'
import { encodeJson, subjects } from '../bus/index.js'
import type { Stats } from './control-channel.js'
import { buildStatsReport } from './stats-report.js'

export interface StatsPublisherOptions {
  nc: NatsConnection
  id: string
  prefix: string
  intervalMs: number
  read: () => Promise<Stats>
  log: Logger
  registry: Registry
  now?: () => number
  /** Frees what `read` uses (its control channel), on close. */
  close?: () => void
}

export class StatsPublisher {
  private timer?: NodeJS.Timeout
  private busy = false
  private readonly once: LogOnce
  private readonly reports: Counter<'result'>

  constructor (private readonly opts: StatsPublisherOptions) {
    this.once = new LogOnce(opts.log)
    this.reports = new Counter({
      name: 'driftgate_renderer_stats_reports_total',
      help: 'lua mode: service load reports by result (published, nginx_unavailable, no_boot, too_many_services, invalid, publish_failed)',
      labelNames: ['result'],
      registers: [opts.registry],
    })
  }

  start (): void {
    if (this.opts.intervalMs <= 0 || this.timer != null) return
    this.timer = setInterval(() => { void this.tick() }, this.opts.intervalMs)
    this.timer.unref()
  }

  /** One report now (the timer's work; tests call it directly). Never throws. */
  async tick (): Promise<boolean> {
    if (this.busy) return false
    this.busy = true
    try { return await this.report() } finally { this.busy = false }
  }

  private async report (): Promise<boolean> {
    const { nc, log } = this.opts
    let stats: Stats
    try { stats = await this.opts.read() } catch (err) {
      this.reports.inc({ result: 'nginx_unavailable' })
      log.debug({ err: (err as Error).message }, 'stats: nginx did not answer')
      return false
    }
    const r = buildStatsReport(this.opts.id, stats, (this.opts.now ?? Date.now)())
    if (!r.ok) {
      this.reports.inc({ result: r.reason })
      this.once.warn(`stats:${r.reason}`, { detail: r.detail }, 'cannot report service load')
      return false
    }
    // the same check the registry makes: a report it would refuse is not sent
    const problems = checkRendererStats.problems(r.message)
    if (problems !== null) {
      this.reports.inc({ result: 'invalid' })
      this.once.warn('stats:invalid', { problems: problems.slice(0, 3) }, 'service load report fails its schema: not sent')
      return false
    }
    if (nc.isClosed()) return false
    try {
      nc.publish(subjects(this.opts.prefix).rendererStats(this.opts.id), encodeJson(r.message))
    } catch (err) {
      this.reports.inc({ result: 'publish_failed' })
      this.once.warn('stats:publish', { err }, 'cannot publish the service load report')
      return false
    }
    this.reports.inc({ result: 'published' })
    return true
  }

  close (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.opts.close?.()
  }
}
