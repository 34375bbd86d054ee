// The standby loop (issue 21): every second, decideStandby() over the other
// sites' summaries and this site's services; the placement leader applies
// what it decides through placement's writeSpec (CAS, history `by:
// standby:<site>`), so one registry writes and the others only show the same
// verdict in /v1/sites. Verdicts and takeovers go to the log, the activity
// feed and metrics.
import type { KV, NatsConnection } from 'nats'
import { Counter, Gauge, type Registry } from 'prom-client'
import { checkServiceRecord, type Logger, type ServiceRecord, type ServiceSpec } from '../../core/index.js'
import { KvTable, publishActivity } from '../../bus/index.js'
import { deleteSpec, writeSpec } from '../../placement/index.js'
import type { RemoteSites } from './index.js'
import { decideStandby, newStandbyMemory, type SiteStandbyStatus, type SiteView, type StandbyAction, type StandbyEvent, type StandbySettings } from './standby-decide.js'

export interface StandbyLoopOptions {
  nc: NatsConnection
  kv: { services: KV, history: KV }
  sites: RemoteSites
  local: string
  settings: StandbySettings
  /** Only the placement leader writes. */
  isLeader: () => boolean
  intervalMs: number
  prefix: string
  log: Logger
  metrics: Registry
}

export class StandbyLoop {
  private readonly services: KvTable<ServiceRecord>
  private readonly mem = newStandbyMemory()
  private status = new Map<string, SiteStandbyStatus>()
  private timer?: NodeJS.Timeout
  private closed = false
  private readonly lostGauge: Gauge<'site'>
  private readonly takenOverGauge: Gauge<'site'>
  private readonly writes: Counter<'site' | 'reason'>
  private readonly failures: Counter

  constructor (private readonly o: StandbyLoopOptions) {
    this.services = new KvTable({ kv: o.kv.services, log: o.log, decode: (v) => (checkServiceRecord.problems(v) === null ? v as ServiceRecord : null) })
    this.lostGauge = new Gauge({ name: 'driftgate_site_lost', help: 'another site is lost as this site sees it (its standby services taken over here): 1 lost, 0 heard', labelNames: ['site'], registers: [o.metrics] })
    this.takenOverGauge = new Gauge({ name: 'driftgate_standby_taken_over', help: 'services of another site this site runs at full count', labelNames: ['site'], registers: [o.metrics] })
    this.writes = new Counter({ name: 'driftgate_standby_writes_total', help: 'standby copies written, by reason (sync, takeover, scale-back)', labelNames: ['site', 'reason'], registers: [o.metrics] })
    this.failures = new Counter({ name: 'driftgate_standby_write_failures_total', help: 'standby writes that failed (retried next round)', registers: [o.metrics] })
  }

  async start (): Promise<void> {
    await this.services.start()
    this.o.sites.setStandbyStatus((site) => this.status.get(site))
    this.schedule()
  }

  private schedule (): void {
    if (this.closed) return
    this.timer = setTimeout(() => { void this.tick().finally(() => this.schedule()) }, this.o.intervalMs)
  }

  private views (now: number): SiteView[] {
    const out: SiteView[] = []
    for (const site of this.o.sites.names()) {
      const r = this.o.sites.site(site)
      if (r === undefined) continue
      const h = r.summary()
      out.push({ site, heardAgoMs: h?.heardAt == null ? null : now - h.heardAt, watchedMs: now - r.startedAt, summary: h?.summary })
    }
    return out
  }

  /** One round (tests call it directly). */
  async tick (): Promise<void> {
    const now = Date.now()
    const specs = new Map<string, ServiceSpec>()
    for (const [name, rec] of this.services.entries) specs.set(name, rec.spec)
    const d = decideStandby(this.o.local, this.views(now), specs, this.mem, now, this.o.settings)
    this.status = d.status
    for (const [site, s] of d.status) {
      this.lostGauge.set({ site }, s.lost ? 1 : 0)
      this.takenOverGauge.set({ site }, s.takenOver.length)
    }
    const leader = this.o.isLeader()
    for (const e of d.events) this.report(e, now, leader)
    if (!leader) return
    for (const a of d.actions) {
      if (this.closed) return
      await this.apply(a)
    }
  }

  private async apply (a: StandbyAction): Promise<void> {
    try {
      if (a.op === 'remove') {
        await deleteSpec(this.o.kv.services, a.service)
        this.o.log.info({ service: a.service }, 'standby copy removed: no other site exports it any more')
        return
      }
      const r = await writeSpec(this.o.kv.services, a.service, () => a.spec, Date.now,
        { kv: this.o.kv.history, meta: { by: `standby:${a.site}`, reason: a.reason } })
      if (r.changed) this.writes.inc({ site: a.site, reason: a.reason })
    } catch (err) {
      this.failures.inc()
      this.o.log.warn({ err, service: a.service, op: a.op }, 'standby write failed; retried next round')
    }
  }

  private report (e: StandbyEvent, now: number, publish: boolean): void {
    const level = e.what === 'lost' || e.what === 'takeover' || e.what === 'conflict' ? 'warn' : 'info'
    this.o.log[level]({ site: e.site, service: e.service, what: e.what }, e.message)
    if (!publish) return // the leader's verdict goes to the feed, once
    const id = `site.${e.site}.${e.service ?? ''}.${e.what}.${Math.floor(now / 1000)}`
    publishActivity(this.o.nc.jetstream(), { kind: 'site', at: now, message: e.message, ...(e.service !== undefined ? { service: e.service } : {}), data: { site: e.site, what: e.what } }, id, this.o.prefix)
      .catch((err: Error) => { this.o.log.debug({ err: err.message }, 'standby activity not published') })
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await this.services.close()
  }
}
