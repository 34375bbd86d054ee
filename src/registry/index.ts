// The registry role: ingest (events + snapshots → driftgate_endpoints), host
// liveness (heartbeats → driftgate_hosts, sweep, fail static), tombstone GC,
// then the plugged-in sub-components (lookup, IPAM). No state of its own:
// everything is in JetStream KV, so any instance can die at any time.
import type { KV, NatsConnection } from 'nats'
import type { Registry as PromRegistry } from 'prom-client'
import { closeInOrder, componentLogger, parseDuration, createLogger, createMetricsRegistry, checkEndpointRecord, checkHostRecord, type EndpointRecord, type HostRecord, type Logger } from '../core/index.js'
import { connectNats, ensureBuckets, ensureLogStream, ensureStream, retrying, subjects as makeSubjects, type Buckets, natsOptionsFrom } from '../bus/index.js'
import type { ResolvedRegistryConfig } from './config.js'
import { createRegistryMetrics, type RegistryMetrics } from './metrics.js'
import { VersionedStore } from './store.js'
import { EndpointApplier } from './applier.js'
import { Ingest } from './ingest.js'
import { HostLiveness } from './hosts.js'
import { TombstoneGc } from './gc.js'
import { defaultComponents, type SubComponent, type SubComponentStarter } from './components.js'
import { startServiceLoad, type ServiceLoad } from './stats/index.js'
import { JsWriter } from './js-writer.js'

export { resolveRegistryConfig, registrySchema, type RegistryConfig, type ResolvedRegistryConfig } from './config.js'
export { decide, endpointKey, fromEvent, fromSnapshot, type IngestEvent, type Decision } from './decide.js'
export { assessHosts, applyHeartbeat } from './liveness.js'
export type { RegistryContext, SubComponent, SubComponentStarter } from './components.js'
export { LoadRates, statsRoutes, type ServiceLoad, type ServiceRate } from './stats/index.js'

export interface RegistryDeps {
  /** A connection the caller owns (not closed by close()); else one is made from config. */
  nc?: NatsConnection
  log?: Logger
  metrics?: PromRegistry
  /** Replaces the built-in sub-components (lookup, IPAM), e.g. [] in ingest tests. */
  components?: SubComponentStarter[]
}

export interface RegistryTables {
  endpoints: VersionedStore<EndpointRecord>
  hosts: VersionedStore<HostRecord>
}

export interface DriftgateRegistry {
  start: () => Promise<void>
  close: () => Promise<void>
  /** The in-memory mirrors (after start). */
  tables?: RegistryTables
  nc?: NatsConnection
  kv?: Record<keyof typeof Buckets, KV>
  metrics: PromRegistry
  /** Liveness (after start): sweep() on demand, isFailStatic. */
  liveness?: HostLiveness
  /** Requests/errors per second per service from renderers' reports (after start). */
  load?: ServiceLoad
}

export function createRegistry (config: Readonly<ResolvedRegistryConfig>, deps: RegistryDeps = {}): DriftgateRegistry {
  const log = deps.log ?? createLogger({ role: 'registry', level: config.logLevel })
  const promRegistry = deps.metrics ?? createMetricsRegistry('registry')
  const t = config.ms
  const subs = makeSubjects(config.prefix)
  const closers: Array<{ name: string, close: () => Promise<void> }> = []
  let ownsNc = false
  let metrics: RegistryMetrics | undefined
  let closing: Promise<void> | undefined

  const self: DriftgateRegistry = {
    metrics: promRegistry,
    async start () {
      metrics = createRegistryMetrics(promRegistry)
      const startedAt = Date.now()
      ownsNc = deps.nc == null
      const nc = deps.nc ?? await connectNats(natsOptionsFrom(config, config.name ?? 'driftgate-registry'), log)
      self.nc = nc
      if (ownsNc) closers.push({ name: 'nats', close: async () => { await nc.drain().catch(async () => await nc.close()) } })
      const m = metrics
      // Each JetStream step is idempotent, so a timeout (busy or re-electing server) is retried, not fatal.
      const retry = { log, retries: m.startRetries, closed: () => closing != null }
      await retrying('stream', async () => { await ensureStream(await nc.jetstreamManager(), { replicas: config.replicas, prefix: config.prefix }) }, retry)
      await retrying('log_stream', async () => {
        await ensureLogStream(await nc.jetstreamManager(), {
          replicas: config.replicas, prefix: config.prefix, maxAgeMs: parseDuration(config.logsMaxAge), maxBytes: config.logsMaxBytes,
        })
      }, retry)
      const kv = await retrying('buckets', async () => await ensureBuckets(nc, { replicas: config.replicas, prefix: config.prefix }), retry)
      self.kv = kv

      // One pipelined JetStream writer for the KV writes and activity lines (js-writer.ts).
      const writer = new JsWriter(nc)
      writer.start()
      closers.push({ name: 'writer', close: async () => { writer.close() } })

      const endpoints = new VersionedStore<EndpointRecord>({
        kv: kv.endpoints,
        writer,
        log: componentLogger(log, 'endpoints'),
        problems: checkEndpointRecord.problems,
        indexOf: (r) => (r.removed === true ? null : r.host),
        onInvalid: (key, reason) => { m.invalidMessages.inc({ reason, type: 'endpoint_record' }) },
      })
      const hosts = new VersionedStore<HostRecord>({
        kv: kv.hosts,
        writer,
        log: componentLogger(log, 'hosts'),
        problems: checkHostRecord.problems,
        onInvalid: (key, reason) => { m.invalidMessages.inc({ reason, type: 'host_record' }) },
      })
      await retrying('endpoints_watch', async () => { await endpoints.start() }, retry)
      closers.push({ name: 'endpoints', close: async () => await endpoints.close() })
      await retrying('hosts_watch', async () => { await hosts.start() }, retry)
      closers.push({ name: 'hosts', close: async () => await hosts.close() })
      self.tables = { endpoints, hosts }
      m.setHostSource(() => hosts.values())

      const applier = new EndpointApplier({ store: endpoints, metrics: m, log })
      closers.push({ name: 'applier', close: async () => await applier.serializer.idle() })
      const ingest = new Ingest({
        nc, store: endpoints, applier, metrics: m, log: componentLogger(log, 'ingest'), subjects: subs,
        ackWaitMs: t.ackWaitMs, maxAckPending: config.maxAckPending,
      })
      m.setSnapshotSource(() => ingest.snapshots)
      await retrying('ingest_consumer', async () => { await ingest.start() }, retry)
      closers.push({ name: 'ingest', close: async () => await ingest.close() })

      const liveness = new HostLiveness({
        nc, hosts, endpoints, applier, metrics: m, log: componentLogger(log, 'liveness'), subjects: subs,
        liveness: { suspectMs: t.suspectMs, graceMs: t.hostGraceMs, startedAt }, sweepMs: t.sweepMs,
      })
      liveness.start()
      self.liveness = liveness
      closers.push({ name: 'liveness', close: async () => await liveness.close() })

      const gc = new TombstoneGc({ entries: () => endpoints.entries(), applier, ttlMs: t.tombstoneTtlMs, log: componentLogger(log, 'gc') })
      gc.start()
      closers.push({ name: 'gc', close: async () => await gc.close() })

      const load = startServiceLoad({ nc, prefix: config.prefix, log: componentLogger(log, 'stats'), metrics: promRegistry, windowMs: t.statsWindowMs })
      self.load = load
      closers.push({ name: 'stats', close: async () => await load.close() })

      const shared = {}
      for (const c of deps.components ?? defaultComponents) {
        const started: SubComponent = await c.start({ nc, kv, log: componentLogger(log, c.name), metrics: promRegistry, config, load, shared, tables: { endpoints: endpoints.table, hosts: hosts.table }, writer })
        closers.push({ name: c.name, close: async () => await started.close() })
      }
      log.info({ replicas: config.replicas, hostGrace: config.hostGrace, components: closers.map((c) => c.name) }, 'registry started')
    },
    async close () {
      // Reverse start order: sub-components first, the NATS connection last;
      // bounded, so a registry whose NATS is gone still stops within 5 s.
      closing ??= closeInOrder([...closers].reverse(), 4500, (component, err) => {
        log.warn({ component, err: err.message }, 'close failed')
      }).then(() => { closers.length = 0 })
      await closing
    },
  }
  return self
}
