// The other sites' endpoints a renderer may route to (spec `failover`,
// issue 21): read-only KvTables over the local JetStream mirrors that this
// site's registries keep (driftgate_remote_<site>_endpoints). Only sites
// some spec names are opened; a mirror not there yet (no registry with
// --remote-site <site> ran) is looked for again every few seconds. Losing the
// link between sites changes nothing here: the mirror keeps its last state.
import type { NatsConnection } from 'nats'
import { checkEndpointRecord, type EndpointRecord, type Logger, type ServiceRecord } from '../core/index.js'
import { KvTable, bindRemoteMirror, type TableChange } from '../bus/index.js'

const RETRY_MS = 3000

export interface RemoteSitesOptions {
  nc: NatsConnection
  log: Logger
  /** A remote endpoint of `service` changed. */
  onChange: (service: string) => void
  onInvalid: (key: string, reason: string) => void
}

export class RemoteEndpoints {
  private readonly tables = new Map<string, KvTable<EndpointRecord>>()
  /** site → service → key → record (one service's lookup without a scan). */
  private readonly bySite = new Map<string, Map<string, Map<string, EndpointRecord>>>()
  private readonly opening = new Set<string>()
  private retry?: NodeJS.Timeout
  private closed = false

  constructor (private readonly opts: RemoteSitesOptions) {}

  /** The sites any spec's failover names. */
  static wanted (specs: Iterable<ServiceRecord>): Set<string> {
    const out = new Set<string>()
    for (const r of specs) for (const s of r.spec.failover?.sites ?? []) out.add(s)
    return out
  }

  /** Opens the mirrors of sites not open yet (never closes one: specs come back, and a table is cheap). */
  want (sites: Set<string>): void {
    for (const site of sites) {
      if (this.tables.has(site) || this.opening.has(site) || this.closed) continue
      this.opening.add(site)
      void this.open(site).finally(() => this.opening.delete(site))
    }
  }

  private async open (site: string): Promise<void> {
    const kv = await bindRemoteMirror(this.opts.nc, site, 'endpoints')
    if (this.closed) return
    if (kv === undefined) {
      this.opts.log.warn({ site }, 'no mirror of this site\'s endpoints yet (is a registry of this site running with --remote-site?); looking again')
      this.retry ??= setTimeout(() => { this.retry = undefined; this.want(new Set([site])) }, RETRY_MS)
      return
    }
    const table = new KvTable<EndpointRecord>({
      kv, log: this.opts.log,
      decode: (v) => (checkEndpointRecord.problems(v) == null ? v as EndpointRecord : null),
      onInvalid: this.opts.onInvalid,
    })
    const index = new Map<string, Map<string, EndpointRecord>>()
    this.bySite.set(site, index)
    table.on('change', (c: TableChange<EndpointRecord>) => {
      const old = c.previous?.service
      if (old !== undefined) index.get(old)?.delete(c.key)
      const now = c.value?.service
      if (now !== undefined) {
        let m = index.get(now)
        if (m === undefined) { m = new Map(); index.set(now, m) }
        m.set(c.key, c.value as EndpointRecord)
      }
      const name = now ?? old
      if (name !== undefined) this.opts.onChange(name)
    })
    await table.start()
    if (this.closed) { await table.close(); return }
    for (const [k, v] of table.entries) {
      let m = index.get(v.service)
      if (m === undefined) { m = new Map(); index.set(v.service, m) }
      m.set(k, v)
    }
    this.tables.set(site, table)
    this.opts.log.info({ site, endpoints: table.entries.size }, 'routing failover to this site\'s mirrored endpoints')
    for (const name of index.keys()) this.opts.onChange(name)
  }

  /** `site`'s endpoint records of `service` (all states: the model filters). */
  endpoints (site: string, service: string): Iterable<EndpointRecord> {
    return this.bySite.get(site)?.get(service)?.values() ?? []
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.retry !== undefined) clearTimeout(this.retry)
    await Promise.all([...this.tables.values()].map(async (t) => await t.close()))
  }
}
