// Sub-components that run inside a registry instance on its NATS connection
// and buckets: the IPAM allocator, the placement leader loop, and the lookup
// API/DNS (which also serves the IPAM and service-spec write routes). Each is started
// after ingest and liveness, and closed (in reverse order) before them.
import type { KV, NatsConnection } from 'nats'
import type { Registry as PromRegistry } from 'prom-client'
import { KvTable, retrying, type Buckets } from '../bus/index.js'
import { checkServiceRecord, type EndpointRecord, type HostRecord, type Logger, type ServiceRecord } from '../core/index.js'
import type { ResolvedRegistryConfig } from './config.js'
import { logsRoutes, startLookup } from './lookup/index.js'
import { activityRoutes, startActivityPublisher } from './activity/index.js'
import { consoleRoutes } from './console/routes.js'
import { startIpamAllocator, ipamRoutes } from './ipam/index.js'
import { createPlacement, serviceRoutes, historyRoutes, type PlacementTables } from '../placement/index.js'
import type { JsWriter } from './js-writer.js'
import { statsRoutes, type ServiceLoad } from './stats/index.js'
import { RemoteSites } from './sites/index.js'
import { SummaryWriter } from './sites/summary-writer.js'
import { StandbyLoop } from './sites/standby.js'
import { ExportWriter } from './sites/export-writer.js'
import { openExportBucket } from '../bus/index.js'
import { newInstanceId } from '../core/index.js'

export interface RegistryContext {
  nc: NatsConnection
  kv: Record<keyof typeof Buckets, KV>
  log: Logger
  metrics: PromRegistry
  config: Readonly<ResolvedRegistryConfig>
  /** Requests and upstream errors per second per service, from the renderers' reports (stats/). */
  load: ServiceLoad
  /**
   * The registry's own started mirrors of the endpoints and hosts buckets:
   * components read these instead of watching the buckets again (one watch,
   * one decode per change per process; three cost a third of the ingest CPU).
   */
  tables: { endpoints: KvTable<EndpointRecord>, hosts: KvTable<HostRecord> }
  /** The registry's pipelined JetStream writer (its KV writes use it too): activity lines go through it. */
  writer: JsWriter
  /** What one component hands a later one (the same object for all of them). */
  shared: { sites?: RemoteSites, /** the placement leader loop (sites' standby writes only as leader; its mirrors serve GET /v1/placement) */ placement?: { isLeader: () => boolean, tables?: PlacementTables } }
}

export interface SubComponent { close: () => Promise<void> }

export interface SubComponentStarter {
  name: string
  start: (ctx: RegistryContext) => Promise<SubComponent>
}

export const ipamComponent: SubComponentStarter = {
  name: 'ipam',
  start: async (ctx) => await startIpamAllocator({
    nc: ctx.nc, kv: { ipam: ctx.kv.ipam, hosts: ctx.kv.hosts }, log: ctx.log, metrics: ctx.metrics,
    config: {
      prefix: ctx.config.prefix,
      quarantineMs: ctx.config.ms.ipamQuarantineMs,
      reserveGraceMs: ctx.config.ms.ipamReserveGraceMs,
      downGraceMs: ctx.config.ms.ipamDownGraceMs,
    },
  }),
}

/** The placement leader loop: every instance contends, one leads at a time. */
export const placementComponent: SubComponentStarter = {
  name: 'placement',
  start: async (ctx) => {
    if (!ctx.config.placement) return { close: async () => {} }
    const placement = createPlacement({
      name: ctx.config.name, leaseMs: ctx.config.ms.placementLeaseMs, autoscaleIntervalMs: ctx.config.ms.autoscaleIntervalMs, prefix: ctx.config.prefix,
    }, { nc: ctx.nc, kv: ctx.kv, log: ctx.log, metrics: ctx.metrics, load: ctx.load, tables: ctx.tables }) // load: the renderers' request rates (requestsPerReplica); tables: no second endpoint mirror
    await placement.start()
    ctx.shared.placement = placement
    return placement
  },
}

/** Other sites' tables, mirrored read-only (issue 21); nothing when --remote-site is not given. */
export const sitesComponent: SubComponentStarter = {
  name: 'sites',
  start: async (ctx) => {
    if (ctx.config.remoteSite.length === 0) return { close: async () => {} }
    const sites = new RemoteSites({
      nc: ctx.nc, local: ctx.config.site, sites: [...ctx.config.remoteSite], prefix: ctx.config.prefix, replicas: ctx.config.replicas,
      staleAfterMs: ctx.config.ms.siteStaleAfterMs, pollMs: 1000, log: ctx.log, metrics: ctx.metrics,
    })
    // What the other sites read about this one (liveness, host counts, standby services).
    const writer = new SummaryWriter({
      kv: { site: ctx.kv.site, hosts: ctx.kv.hosts, endpoints: ctx.kv.endpoints, services: ctx.kv.services },
      site: ctx.config.site, registry: ctx.config.name ?? `registry-${newInstanceId()}`, intervalMs: 1000, log: ctx.log, metrics: ctx.metrics,
    })
    await writer.start()
    // The endpoint table for the other sites, plain puts by one registry (the export lease holder).
    const exporter = new ExportWriter({
      endpoints: ctx.tables.endpoints, exportKv: await retrying('export_bucket', async () => await openExportBucket(ctx.nc, ctx.config.replicas), { log: ctx.log }), leases: ctx.kv.leases,
      holder: `${ctx.config.name ?? 'registry'}-${newInstanceId()}`, leaseMs: ctx.config.ms.placementLeaseMs, resyncMs: 30_000, log: ctx.log, metrics: ctx.metrics,
    })
    await exporter.start()
    await sites.start()
    ctx.shared.sites = sites
    // Takes over the other sites' services that name this one as standby (only the placement leader writes).
    const standby = new StandbyLoop({
      nc: ctx.nc, kv: { services: ctx.kv.services, history: ctx.kv.history }, sites, local: ctx.config.site,
      settings: { graceMs: ctx.config.ms.standbyGraceMs, holdMs: ctx.config.ms.standbyHoldMs, cooldownMs: ctx.config.ms.standbyCooldownMs },
      isLeader: () => ctx.shared.placement?.isLeader() ?? false, intervalMs: 1000, prefix: ctx.config.prefix, log: ctx.log, metrics: ctx.metrics,
    })
    await standby.start()
    return { close: async () => { ctx.shared.sites = undefined; await standby.close(); await sites.close(); await exporter.close(); await writer.close() } }
  },
}

/** HTTP API + DNS; the IPAM pool routes mount on the same API. */
export const lookupComponent: SubComponentStarter = {
  name: 'lookup',
  start: async (ctx) => {
    const services = await sharedTables(ctx)
    const lookup = await startLookup({
      nc: ctx.nc,
      tables: { ...ctx.tables, services },
      kv: { endpoints: ctx.kv.endpoints, hosts: ctx.kv.hosts, services: ctx.kv.services },
      log: ctx.log,
      metrics: ctx.metrics,
      config: {
        httpPort: ctx.config.httpPort,
        httpHost: ctx.config.httpHost,
        dnsPort: ctx.config.dnsPort,
        dnsHost: ctx.config.dnsHost,
        dnsTtl: ctx.config.dnsTtl,
        dnsForward: [...ctx.config.dnsForward],
        dnsForwardAllow: [...ctx.config.dnsForwardAllow],
        dnsUdpMax: ctx.config.dnsUdpMax,
        dnsRateLimit: ctx.config.dnsRateLimit,
        dnsRateBurst: ctx.config.dnsRateBurst,
        dnsTcpMaxConnections: ctx.config.dnsTcpMaxConnections,
        dnsTcpIdleMs: ctx.config.ms.dnsTcpIdleMs,
        httpRequestTimeoutMs: ctx.config.ms.httpRequestTimeoutMs,
        maxBlockingQueries: ctx.config.httpMaxBlocking,
        maxBlockingQueriesPerClient: ctx.config.httpMaxBlockingPerClient,
        domain: ctx.config.domain,
        apiToken: ctx.config.apiToken != null ? [ctx.config.apiToken] : undefined,
        apiTokenFile: ctx.config.apiTokenFile,
        apiReadToken: ctx.config.apiReadToken,
      },
      plugins: [ipamRoutes({ kv: ctx.kv.ipam, log: ctx.log }), serviceRoutes({ kv: ctx.kv, log: ctx.log, tables: ctx.shared.placement?.tables, mirrors: ctx.tables }), historyRoutes({ kv: ctx.kv, log: ctx.log }),
        activityRoutes({ nc: ctx.nc, log: ctx.log, prefix: ctx.config.prefix }), consoleRoutes(),
        logsRoutes({ nc: ctx.nc, prefix: ctx.config.prefix }),
        statsRoutes({ load: ctx.load })],
      ipam: ctx.kv.ipam, // pool subnets may use DNS forwarding (dnsForwardAllow "pools")
      sites: { local: ctx.config.site, remote: ctx.shared.sites },
    }).catch(async (err: unknown) => { await services.close(); throw err })
    return { close: async () => { await lookup.close(); await services.close() } }
  },
}

/** The services mirror lookup needs beside the registry's endpoints and hosts. */
async function sharedTables (ctx: RegistryContext): Promise<KvTable<ServiceRecord>> {
  const services = new KvTable<ServiceRecord>({
    kv: ctx.kv.services, log: ctx.log, decode: (v) => (checkServiceRecord.problems(v) === null ? v as ServiceRecord : null),
  })
  await services.start()
  return services
}

/** The activity feed's publisher (GET /v1/events reads what it writes). */
export const activityComponent: SubComponentStarter = {
  name: 'activity',
  start: async (ctx) => await startActivityPublisher({
    nc: ctx.nc, kv: ctx.kv, log: ctx.log, prefix: ctx.config.prefix, replicas: ctx.config.replicas, tables: ctx.tables, writer: ctx.writer,
  }),
}

/**
 * The built-in sub-components, in start order (closed in reverse).
 * createRegistry(config, { components }) overrides the list (tests).
 */
export const defaultComponents: SubComponentStarter[] = [ipamComponent, placementComponent, activityComponent, sitesComponent, lookupComponent]
