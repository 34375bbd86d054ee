// The in-memory view behind every lookup: endpoints grouped by service, each
// service with an index (the KV revision of the last change that altered what
// a client sees) and a list of parked blocking queries. Updated synchronously
// from KvTable 'change' events, so an answer reflects the table as soon as the
// watch delivers the entry. Nothing here polls: a parked query costs one
// closure and one timer until its service changes.
import type { EndpointRecord, HostRecord, ServiceRecord } from '../../core/index.js'
import type { KvTable, TableChange } from '../../bus/index.js'
import type { RemoteSites, SiteEndpoint } from '../sites/index.js'

/** This site's name and, when other sites are mirrored, their tables (issue 21). */
export interface LookupSites { local: string, remote?: RemoteSites }

export interface LookupTables {
  endpoints: KvTable<EndpointRecord>
  hosts: KvTable<HostRecord>
  services: KvTable<ServiceRecord>
}

interface Waiter { after: number, done: (changed: boolean) => void, timer: NodeJS.Timeout }

/** One service as lookups see it. `cache` holds derived answers (HTTP bodies, DNS packets) until the next change. */
export interface ServiceEntry {
  readonly name: string
  readonly endpoints: Map<string, EndpointRecord>
  index: number
  /** Bumped per DNS answer so A records come out rotated. */
  rotation: number
  readonly cache: Map<string, unknown>
  healthy: EndpointRecord[] | null
  /** What lookups answer: the healthy local set, or another site's when it is empty and the spec says failover. */
  answer: EndpointRecord[] | null
  readonly waiters: Set<Waiter>
}

/** Running and not unhealthy (DESIGN invariant 5). */
export function isHealthyRunning (e: EndpointRecord): boolean {
  return e.state === 'running' && e.health !== 'unhealthy'
}

// The fields a lookup client can see; a rewrite that only moves seq or
// updatedAt (snapshots do that all the time) must not wake blocking queries.
function visible (e: EndpointRecord): string {
  return `${e.host}|${e.ip}|${e.port}|${e.state}|${e.health}|${e.weight}|${e.name ?? ''}|${e.replica ?? ''}|${e.network}`
}

export class LookupView {
  private readonly services = new Map<string, ServiceEntry>()
  /** Bumped on every visible change anywhere; for caches spanning services (/v1/services). */
  generation = 0
  private readonly onEndpoint = (c: TableChange<EndpointRecord>): void => { this.applyEndpoint(c) }
  private readonly onService = (c: TableChange<ServiceRecord>): void => { this.touch(c.key, 0) }
  private readonly onHost = (): void => { this.generation++ }
  // another site's endpoint of a service changed, or its link did (stale flag): re-answer it
  private readonly onRemote = (name: string): void => {
    const e = this.services.get(name)
    if (e !== undefined && this.spec(name)?.spec.failover !== undefined) this.changed(e, 0)
  }

  constructor (readonly tables: LookupTables, readonly sites: LookupSites = { local: 'local' }) {
    tables.endpoints.on('change', this.onEndpoint)
    tables.services.on('change', this.onService)
    tables.hosts.on('change', this.onHost)
    sites.remote?.on('service', this.onRemote)
  }

  /** Rebuilds from the tables' current entries (after their initial load, or when handed started tables). */
  rebuild (): void {
    const rev = this.tables.endpoints.revision
    for (const entry of this.services.values()) entry.endpoints.clear()
    for (const rec of this.tables.endpoints.entries.values()) {
      if (rec.removed === true) continue
      this.entry(rec.service).endpoints.set(rec.containerId, rec)
    }
    for (const entry of this.services.values()) this.changed(entry, Math.max(entry.index, rev))
    this.generation++
  }

  private entry (name: string): ServiceEntry {
    let e = this.services.get(name)
    if (e === undefined) {
      e = { name, endpoints: new Map(), index: 0, rotation: 0, cache: new Map(), healthy: null, answer: null, waiters: new Set() }
      this.services.set(name, e)
    }
    return e
  }

  private applyEndpoint (c: TableChange<EndpointRecord>): void {
    const rec = c.value ?? c.previous
    if (rec === undefined) return
    const entry = this.entry(rec.service)
    const before = entry.endpoints.get(rec.containerId)
    const after = c.value !== undefined && c.value.removed !== true ? c.value : undefined
    if (before === undefined && after === undefined) { this.forgetIfEmpty(entry); return }
    if (before !== undefined && after !== undefined && visible(before) === visible(after)) {
      entry.endpoints.set(rec.containerId, after) // keep the newest record, nobody needs waking
      return
    }
    if (after === undefined) entry.endpoints.delete(rec.containerId)
    else entry.endpoints.set(rec.containerId, after)
    this.changed(entry, c.revision)
    this.forgetIfEmpty(entry)
  }

  /** A spec change: drop derived answers, but the endpoints index stays. */
  private touch (name: string, revision: number): void {
    const entry = this.entry(name)
    if (revision > 0) this.changed(entry, revision)
    else { entry.cache.clear(); entry.answer = null; this.generation++ }
    this.forgetIfEmpty(entry)
  }

  private changed (entry: ServiceEntry, revision: number): void {
    entry.index = Math.max(entry.index + 1, revision)
    entry.cache.clear()
    entry.healthy = null
    entry.answer = null
    this.generation++
    for (const w of entry.waiters) {
      if (entry.index > w.after) { entry.waiters.delete(w); clearTimeout(w.timer); w.done(true) }
    }
  }

  // Entries with no endpoint, no spec and nobody waiting would only grow the map.
  private forgetIfEmpty (entry: ServiceEntry): void {
    if (entry.endpoints.size === 0 && entry.waiters.size === 0 && !this.tables.services.entries.has(entry.name)) {
      this.services.delete(entry.name)
    }
  }

  /** A service exists when it has a spec or at least one live endpoint. */
  get (name: string): ServiceEntry | undefined {
    const e = this.services.get(name)
    if (e !== undefined && (e.endpoints.size > 0 || this.tables.services.entries.has(name))) return e
    if (e === undefined && this.tables.services.entries.has(name)) return this.entry(name)
    return undefined
  }

  spec (name: string): ServiceRecord | undefined { return this.tables.services.entries.get(name) }

  /** Every known service name, sorted. */
  names (): string[] {
    const names = new Set<string>(this.tables.services.entries.keys())
    for (const e of this.services.values()) if (e.endpoints.size > 0) names.add(e.name)
    return [...names].sort()
  }

  healthy (entry: ServiceEntry): EndpointRecord[] {
    if (entry.healthy === null) {
      entry.healthy = [...entry.endpoints.values()].filter(isHealthyRunning)
        .sort((a, b) => (a.containerId < b.containerId ? -1 : 1))
    }
    return entry.healthy
  }

  /**
   * What HTTP and DNS lookups answer (Consul's prepared-query failover): the
   * healthy local endpoints; when there are none and the spec has
   * `failover.sites`, the first of those sites (in order) that has routable
   * endpoints, each marked with its site (and stale while its link is down).
   */
  answer (entry: ServiceEntry): EndpointRecord[] {
    if (entry.answer === null) {
      const local = this.healthy(entry)
      entry.answer = local
      const failover = this.spec(entry.name)?.spec.failover
      if (local.length === 0 && failover !== undefined && this.sites.remote !== undefined) {
        for (const site of failover.sites) {
          const remote = this.sites.remote.routable(site, entry.name)
          if (remote.length > 0) { entry.answer = remote; break }
        }
      }
    }
    return entry.answer
  }

  /** Services answered from another site right now (their local set is empty). */
  failedOver (): Array<{ service: string, site: string }> {
    const out: Array<{ service: string, site: string }> = []
    if (this.sites.remote === undefined) return out
    for (const [name, rec] of this.tables.services.entries) {
      if (rec.spec.failover === undefined) continue
      const entry = this.get(name)
      const first = entry !== undefined ? this.answer(entry)[0] as SiteEndpoint | undefined : undefined
      if (first?.site !== undefined) out.push({ service: name, site: first.site })
    }
    return out
  }

  all (entry: ServiceEntry): EndpointRecord[] {
    return [...entry.endpoints.values()].sort((a, b) => (a.containerId < b.containerId ? -1 : 1))
  }

  /**
   * The index a client sees for a service. For one that does not exist (any
   * more), the table's revision: parking on it waits for whatever comes next.
   */
  index (name: string): number { return this.services.get(name)?.index ?? this.tables.endpoints.revision }

  hosts (): HostRecord[] {
    return [...this.tables.hosts.entries.values()].sort((a, b) => (a.host < b.host ? -1 : 1))
  }

  /**
   * Parks until the service's index moves past `after` (→ true) or `ms` pass
   * (→ false). `cancel()` releases the slot early (client went away).
   */
  wait (name: string, after: number, ms: number): { promise: Promise<boolean>, cancel: () => void } {
    const entry = this.entry(name)
    if (entry.index > after) return { promise: Promise.resolve(true), cancel: () => {} }
    let waiter!: Waiter
    const promise = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { entry.waiters.delete(waiter); this.forgetIfEmpty(entry); resolve(false) }, ms)
      waiter = { after, done: resolve, timer }
    })
    entry.waiters.add(waiter)
    const cancel = (): void => {
      if (!entry.waiters.delete(waiter)) return
      clearTimeout(waiter.timer)
      waiter.done(false)
      this.forgetIfEmpty(entry)
    }
    return { promise, cancel }
  }

  waiting (): number {
    let n = 0
    for (const e of this.services.values()) n += e.waiters.size
    return n
  }

  /** Releases every parked query (answered as timed out) and stops listening. Idempotent. */
  close (): void {
    this.tables.endpoints.off('change', this.onEndpoint)
    this.tables.services.off('change', this.onService)
    this.tables.hosts.off('change', this.onHost)
    this.sites.remote?.off('service', this.onRemote)
    for (const e of this.services.values()) {
      for (const w of e.waiters) { clearTimeout(w.timer); w.done(false) }
      e.waiters.clear()
    }
  }
}
