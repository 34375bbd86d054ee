// The model, kept up to date service by service. buildModel over every
// record costs ~100-300 ms at 10,000 services × 5 endpoints (each record is
// re-validated); an endpoint change only touches its service. Services whose
// records did not change keep the very same UpstreamModel object, so later
// steps (templates, push lines) can skip them by identity.
import type { EndpointRecord, ServiceRecord } from '../core/index.js'
import { buildModel, type InvalidRecord, type Model, type UpstreamModel } from './model.js'

export class ModelCache {
  private readonly byService = new Map<string, UpstreamModel>()
  private names: string[] = []
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
  }): { model: Model, invalid: InvalidRecord[], namesChanged: boolean, luaFilesChanged: boolean } {
    const invalid: InvalidRecord[] = []
    let namesChanged = false
    // what lua mode's files print of a service: its name and keepalive
    let luaFilesChanged = false
    if (this.full) {
      const all = src.all()
      const r = buildModel(all.endpoints, all.services)
      invalid.push(...r.invalid)
      this.byService.clear()
      for (const up of r.model.services) this.byService.set(up.name, up)
      namesChanged = true
      luaFilesChanged = true
      this.full = false
      this.dirty.clear()
    } else {
      for (const name of this.dirty) {
        const spec = src.spec(name)
        const r = buildModel(src.endpoints(name), spec != null ? [[name, spec]] : [])
        invalid.push(...r.invalid)
        const up = r.model.services.find((s) => s.name === name)
        if (up == null) namesChanged = this.byService.delete(name) || namesChanged
        else {
          const old = this.byService.get(name)
          if (old == null) namesChanged = true
          else if (old.keepalive !== up.keepalive || old.defaulted !== up.defaulted) luaFilesChanged = true
          this.byService.set(name, up)
        }
      }
      this.dirty.clear()
    }
    if (namesChanged) this.names = [...this.byService.keys()].sort()
    const services = this.names.map((n) => this.byService.get(n) as UpstreamModel)
    // unsorted: consumers of the applied message use it as a set
    const containers: string[] = []
    for (const up of services) for (const s of up.servers) containers.push(s.containerId)
    return { model: { services, containers }, invalid, namesChanged, luaFilesChanged: luaFilesChanged || namesChanged }
  }
}
