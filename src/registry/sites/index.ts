// Every other site this registry mirrors (--remote-site), read-only: their
// endpoints (each with its site) and hosts' liveness, and the state of the
// link to each. Lookups use it for failover answers (lookup/view.ts), GET
// /v1/sites and `driftgate status` show it. Link changes are logged and
// counted; nothing local ever depends on a link being up (fail static).
import { EventEmitter } from 'node:events'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { NatsConnection } from 'nats'
import type { EndpointRecord, Logger } from '../../core/index.js'
import { retrying, type TableChange } from '../../bus/index.js'
import { RemoteSite } from './remote-site.js'
import { isRoutable, siteStatus, type LinkState, type SiteStatus } from './link.js'

export { linkState, siteStatus, hostCounts, isRoutable, type LinkState, type SiteStatus, type HostCounts } from './link.js'

/** An endpoint of another site, as lookups and the API show it. */
export type SiteEndpoint = EndpointRecord & { site: string, stale: boolean }

export interface RemoteSitesOptions {
  nc: NatsConnection
  local: string
  sites: string[]
  prefix: string
  replicas: number
  /** A link is down when its mirrors heard nothing for this long. */
  staleAfterMs: number
  /** How often the mirrors' state is read. */
  pollMs: number
  log: Logger
  metrics: Registry
}

/** Emits 'service' (name) when a remote endpoint of that service changed, and 'link' (site, state) when a link changes state. */
export class RemoteSites extends EventEmitter {
  private readonly remotes = new Map<string, RemoteSite>()
  private readonly links = new Map<string, LinkState>()
  private timer?: NodeJS.Timeout
  private closed = false
  private standby: (site: string) => { lost: boolean, takenOver: string[] } | undefined = () => undefined
  private readonly linkGauge: Gauge<'site'>
  private readonly linkChanges: Counter<'site' | 'state'>
  private readonly invalid: Counter<'site' | 'table' | 'reason'>

  constructor (private readonly opts: RemoteSitesOptions) {
    super()
    this.linkGauge = new Gauge({ name: 'driftgate_site_link_up', help: 'link to another site: 1 up, 0 down or unknown', labelNames: ['site'], registers: [opts.metrics] })
    this.linkChanges = new Counter({ name: 'driftgate_site_link_changes_total', help: 'link state changes seen, by new state', labelNames: ['site', 'state'], registers: [opts.metrics] })
    this.invalid = new Counter({ name: 'driftgate_site_invalid_values_total', help: 'values of another site ignored because they failed their schema', labelNames: ['site', 'table', 'reason'], registers: [opts.metrics] })
  }

  async start (): Promise<void> {
    const o = this.opts
    const jsm = await retrying('sites_jsm', async () => await o.nc.jetstreamManager(), { log: o.log })
    for (const site of o.sites) {
      const r = new RemoteSite({
        nc: o.nc, jsm, local: o.local, site, prefix: o.prefix, replicas: o.replicas, log: o.log,
        onInvalid: (table, reason) => { this.invalid.inc({ site, table, reason }) },
      })
      this.remotes.set(site, r)
      await r.start()
      r.endpoints?.on('change', (c: TableChange<EndpointRecord>) => {
        const name = (c.value ?? c.previous)?.service
        if (name !== undefined) this.emit('service', name)
      })
      this.check(site)
    }
    this.schedule()
    o.log.info({ site: o.local, remoteSites: o.sites, links: Object.fromEntries(this.links) }, 'remote sites mirrored')
  }

  private schedule (): void {
    if (this.closed) return
    this.timer = setTimeout(() => { void this.tick() }, this.opts.pollMs)
  }

  private async tick (): Promise<void> {
    for (const [site, r] of this.remotes) {
      if (this.closed) return
      await r.poll()
      this.check(site)
    }
    this.schedule()
  }

  /** Logs and counts a link's state change; a changed link re-answers every service it serves (stale flag). */
  private check (site: string): void {
    const r = this.remotes.get(site)
    if (r === undefined) return
    const now = siteStatus(site, r.stateList(), this.opts.staleAfterMs, []).link
    const was = this.links.get(site)
    if (was === now) return
    this.links.set(site, now)
    this.linkGauge.set({ site }, now === 'up' ? 1 : 0)
    if (was === undefined && now === 'up') return
    this.linkChanges.inc({ site, state: now })
    const msg = now === 'up' ? 'link to site up' : 'link to site not up: its entries are kept as last seen (stale)'
    this.opts.log[now === 'up' ? 'info' : 'warn']({ site, link: now, was: was ?? 'none' }, msg)
    this.emit('link', site, now)
    const names = new Set<string>()
    for (const e of r.endpoints?.entries.values() ?? []) names.add(e.service)
    for (const n of names) this.emit('service', n)
  }

  /** Routable endpoints of `service` in `site` (its last known state when the link is down, marked stale). */
  routable (site: string, service: string): SiteEndpoint[] {
    const r = this.remotes.get(site)
    if (r?.endpoints === undefined) return []
    const stale = this.links.get(site) !== 'up'
    const out: SiteEndpoint[] = []
    for (const e of r.endpoints.entries.values()) {
      if (e.service === service && isRoutable(e)) out.push({ ...e, site, stale })
    }
    return out.sort((a, b) => (a.containerId < b.containerId ? -1 : 1))
  }

  status (): SiteStatus[] {
    const now = Date.now()
    return [...this.remotes.values()].map((r) => {
      const h = r.summary()
      return siteStatus(r.site, r.stateList(), this.opts.staleAfterMs, r.endpoints?.entries.values() ?? [],
        h === undefined ? undefined : { hosts: h.summary.hosts, heardAgoMs: h.heardAt === null ? null : now - h.heardAt }, this.standby(r.site))
    })
  }

  /** The standby loop's verdict per site, shown in status(). */
  setStandbyStatus (fn: (site: string) => { lost: boolean, takenOver: string[] } | undefined): void { this.standby = fn }

  /** The other sites, in --remote-site order (standby: the first exporting a name wins). */
  names (): string[] { return [...this.remotes.keys()] }

  /** The mirrors' tables of one site (tests, the standby loop). */
  site (name: string): RemoteSite | undefined { return this.remotes.get(name) }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await Promise.all([...this.remotes.values()].map(async (r) => await r.close()))
    this.removeAllListeners()
  }
}
