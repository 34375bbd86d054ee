// The in-memory view behind every lookup: endpoints grouped by service, each
// service with an index (the KV revision of the last change that altered what
// a client sees) and a list of parked blocking queries. Updated synchronously
// from KvTable 'change' events, so an answer reflects the table as soon as the
// watch delivers the entry. Nothing here polls: a parked query costs one
// closure and one timer until its service changes.
import type { EndpointRecord, HostRecord, ServiceRecord } from '../../core/index.js'
import type { KvTable, TableChange } from '../../bus/index.js'

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

  constructor (readonly tables: LookupTables) {
    tables.endpoints.on('change', this.onEndpoint)
    tables.services.on('change', this.onService)
    tables.hosts.on('change', this.onHost)
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
      e = { name, endpoints: new Map(), index: 0, rotation: 0, cache: new Map(), healthy: null, waiters: new Set() }
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
    else { entry.cache.clear(); this.generation++ }
    this.forgetIfEmpty(entry)
  }

  private changed (entry: ServiceEntry, revision: number): void {
    entry.index = Math.max(entry.index + 1, revision)
    entry.cache.clear()
    entry.healthy = null
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
    for (const e of this.services.values()) {
      for (const w of e.waiters) { clearTimeout(w.timer); w.done(false) }
      e.waiters.clear()
    }
  }
}
