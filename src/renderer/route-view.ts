// The context of the servers template (`servers.conf.njk`): the whole model,
// like docker-gen gives its templates. Pure. Documented in the README
// ("Templates: the context"); keep the two in step.
import type { EndpointRecord } from '../core/index.js'
import type { Model, UpstreamModel, UpstreamServer } from './model.js'
import type { HostRoutes, RouteConflict, RouteTable, ClaimSource } from './routes.js'

/** The route labels a container carried (`driftgate.hosts`, `driftgate.path`). */
export interface EndpointLabels { hosts?: string[], path?: string }

export interface ServiceView extends UpstreamModel {
  /** The live endpoints (same as servers), each with its route labels. */
  endpoints: Array<UpstreamServer & { labels: EndpointLabels }>
  /** The host+path claims this service won. */
  routes: Array<{ host: string, path: string, stripPrefix: boolean, redirectHttps: boolean, source: ClaimSource }>
  /** Its claims that another service kept. */
  conflicts: RouteConflict[]
}

export interface ServersContext {
  /** One entry per host name, sorted; locations longest prefix first. */
  hosts: HostRoutes[]
  conflicts: RouteConflict[]
  /** Every service of the model, sorted by name. */
  services: ServiceView[]
  /** nginx `listen` argument of the plain-HTTP servers (renderer --http-listen). */
  listen: string
  /** nginx `listen` argument of the TLS servers (used only for hosts with a certificate). */
  listenTls: string
  /** The `<service>.<anything>` Host convenience is on (renderer --host-prefix). */
  hostPrefix: boolean
  statusPort: number
}

export interface ViewOptions { listen: string, listenTls: string, hostPrefix: boolean, statusPort: number }

/** Route labels by container id, from the endpoint records (only those that carry some). */
export function labelsByContainer (endpoints: Iterable<EndpointRecord>): Map<string, EndpointLabels> {
  const out = new Map<string, EndpointLabels>()
  for (const e of endpoints) {
    if (e == null || e.removed === true || e.hosts == null) continue
    out.set(e.containerId, e.path != null ? { hosts: e.hosts, path: e.path } : { hosts: e.hosts })
  }
  return out
}

export function serversContext (model: Model, table: RouteTable, labels: ReadonlyMap<string, EndpointLabels>, o: ViewOptions): ServersContext {
  const routes = new Map<string, ServiceView['routes']>()
  for (const h of table.hosts) {
    for (const l of h.locations) {
      let list = routes.get(l.service)
      if (list == null) { list = []; routes.set(l.service, list) }
      list.push({ host: h.host, path: l.path, stripPrefix: l.stripPrefix, redirectHttps: l.redirectHttps, source: l.source })
    }
  }
  const lost = new Map<string, RouteConflict[]>()
  for (const c of table.conflicts) {
    const list = lost.get(c.loser) ?? []
    list.push(c)
    lost.set(c.loser, list)
  }
  const services: ServiceView[] = model.services.map((up) => ({
    ...up,
    endpoints: up.servers.map((s) => ({ ...s, labels: labels.get(s.containerId) ?? {} })),
    routes: routes.get(up.name) ?? [],
    conflicts: lost.get(up.name) ?? [],
  }))
  return { hosts: table.hosts, conflicts: table.conflicts, services, ...o }
}
