// The model, kept up to date service by service. buildModel over every
// record costs ~100-300 ms at 10,000 services × 5 endpoints (each record is
// re-validated); an endpoint change only touches its service. Services whose
// records did not change keep the very same UpstreamModel object, so later
// steps (templates, push lines) can skip them by identity.
import type { EndpointRecord, ServiceRecord } from '../core/index.js'
import { buildModel, type InvalidRecord, type Model, type RemoteSource, type UpstreamModel } from './model.js'

/**
 * A model whose container list is built on first use (50,000 ids at
 * 10,000 × 5 cost milliseconds; lua mode's endpoint change needs none).
 */
export function lazyModel (services: UpstreamModel[]): Model {
  let containers: string[] | undefined
  return {
    services,
    get containers (): string[] {
      if (containers === undefined) {
        // unsorted: consumers of the applied message use it as a set
        containers = []
        for (const up of services) for (const s of up.servers) containers.push(s.containerId)
      }
      return containers
    },
  }
}

export class ModelCache {
  private readonly byService = new Map<string, UpstreamModel>()
  private names: string[] = []
  /** The last model's services (sorted by name) and each name's position in it. */
  private services: UpstreamModel[] = []
  private readonly position = new Map<string, number>()
  /** Endpoints in the model (kept by difference: no walk over every service). */
  private endpoints = 0
  private readonly dirty = new Set<string>()
  private full = true

  /** A record of `service` changed (endpoint or spec). */
  touch (service: string | undefined): void { if (service != null) this.dirty.add(service) }

  /** Everything must be rebuilt (start, template change). */
  invalidate (): void { this.full = true }

  /**
   * The current model. `endpoints(service)` / `spec(service)` give one
   * service's records; `all()` every record for a full build.
   */
  model (src: {
    all: () => { endpoints: Iterable<[string, EndpointRecord]>, services: Iterable<[string, ServiceRecord]> }
    endpoints: (service: string) => Iterable<[string, EndpointRecord]>
    spec: (service: string) => ServiceRecord | undefined
    /** Other sites' endpoints (spec failover). */
    remote?: RemoteSource
  }): {
    model: Model
    invalid: InvalidRecord[]
    namesChanged: boolean
    luaFilesChanged: boolean
    /** Services that were rebuilt (null: everything was). */
    changed: string[] | null
    /** The one service's model by name (O(1), for O(changed) consumers). */
    lookup: (name: string) => UpstreamModel | undefined
    endpoints: number
  } {
    const invalid: InvalidRecord[] = []
    let changed: string[] | null = null
    let namesChanged = false
    // what lua mode's files print of a service: its name and keepalive
    let luaFilesChanged = false
    if (this.full) {
      const all = src.all()
      const r = buildModel(all.endpoints, all.services, src.remote)
      invalid.push(...r.invalid)
      this.byService.clear()
      this.endpoints = 0
      for (const up of r.model.services) { this.byService.set(up.name, up); this.endpoints += up.servers.length }
      namesChanged = true
      luaFilesChanged = true
      this.full = false
      this.dirty.clear()
    } else {
      changed = [...this.dirty]
      for (const name of this.dirty) {
        const spec = src.spec(name)
        const r = buildModel(src.endpoints(name), spec != null ? [[name, spec]] : [], src.remote)
        invalid.push(...r.invalid)
        const up = r.model.services.find((s) => s.name === name)
        const old = this.byService.get(name)
        this.endpoints += (up?.servers.length ?? 0) - (old?.servers.length ?? 0)
        if (up == null) namesChanged = this.byService.delete(name) || namesChanged
        else {
          if (old == null) namesChanged = true
          else if (old.keepalive !== up.keepalive || old.defaulted !== up.defaulted) luaFilesChanged = true
          this.byService.set(name, up)
        }
      }
      this.dirty.clear()
    }
    let services: UpstreamModel[]
    if (namesChanged || changed == null) {
      this.names = [...this.byService.keys()].sort()
      services = this.names.map((n) => this.byService.get(n) as UpstreamModel)
      this.position.clear()
      services.forEach((up, i) => this.position.set(up.name, i))
    } else {
      // same names: a copy of the last array (pointers, microseconds) with
      // the rebuilt services swapped in; earlier models stay as they were
      services = this.services.slice()
      for (const name of changed) {
        const at = this.position.get(name)
        const up = this.byService.get(name)
        if (at !== undefined && up !== undefined) services[at] = up
      }
    }
    this.services = services
    const byService = this.byService
    return {
      model: lazyModel(services), invalid, namesChanged, luaFilesChanged: luaFilesChanged || namesChanged,
      changed, lookup: (name) => byService.get(name), endpoints: this.endpoints,
    }
  }
}
