// The host agent: wires the Docker watcher, the event handler, snapshots and
// heartbeats to NATS, serves the Docker IPAM driver (and binds the addresses
// it handed out once their containers run), and runs the replicas placement
// assigns to this host (the reconciler, whose planned stops drain through the
// handler). Subscribes to Docker events before listing containers, so nothing
// started in between is missed; never exits on a transient failure.
import { createRequire } from 'node:module'
import type Dockerode from 'dockerode'
import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import { closeInOrder, componentLogger, createLogger, createMetricsRegistry, newInstanceId, type Logger } from '../core/index.js'
import { connectNats, ensureStream, subjects, natsOptionsFrom } from '../bus/index.js'
import { dockerOptions, type ResolvedAgentConfig } from './config.js'
import { DockerWatcher } from './docker/events.js'
import { EventHandler, type Trace } from './docker/handler.js'
import { Heartbeat } from './heartbeat.js'
import { Reservations } from './docker/reservations.js'
import { createAgentMetrics } from './metrics.js'
import { MacvlanNetworks } from './docker/networks.js'
import { Publisher } from './publisher.js'
import { SnapshotTaker } from './docker/snapshotter.js'
import { IpamBinder } from './ipam/binder.js'
import { bindByMac, ipamRetriesCounter, startIpamDriver, type IpamDriver } from './ipam/index.js'
import { LogManager, DEFAULT_LOG_BUDGETS, type LogBudgets } from './logs/index.js'
import { HealthMonitor } from './health/monitor.js'
import { StatsReporter } from './stats/index.js'
import { runReconciler, type ReconcileRunner, type ReconcilerTimingOptions } from './reconciler/runner.js'
import { startShimAndDns, type ShimAndDns } from './shim/wire.js'

export interface AgentDeps {
  nc?: NatsConnection
  docker?: Dockerode
  log?: Logger
  metrics?: Registry
  /** Called for every event published (benchmarks measure the agent's own share with it). */
  onTrace?: (t: Trace) => void
  /** Reconciler timings (tests shorten the drain and warm-up waits). */
  reconcilerTimings?: ReconcilerTimingOptions
  /** Log shipping budgets beyond the config's (tests shrink the buffer and the batch delay). */
  logBudgets?: Partial<LogBudgets>
}

export interface Agent {
  start: () => Promise<void>
  close: () => Promise<void>
  instance: string
  snapshotNow: () => Promise<void>
  /** Publishes a running container as `draining` (what the reconciler does before a planned stop). */
  markDraining: (containerId: string, service: string) => Promise<void>
  /** The IPAM driver's socket, once started with an ipamDriverName. */
  ipamSocketPath?: string
  metrics: Registry
}

const now = (): number => performance.timeOrigin + performance.now()
/**
 * dockerode is loaded when an agent is created, not when this module is: every
 * CLI process imports every command, and dockerode (with ssh2 and its 16 MB
 * WebAssembly heap) costs a registry or renderer ~20-30 MB RSS it never uses.
 */
const loadDockerode = (): typeof Dockerode => createRequire(import.meta.url)('dockerode') as typeof Dockerode

/** SIGTERM to exit: an agent whose NATS and Docker are both gone still stops within 5 s. */
const CLOSE_BUDGET_MS = 3000


export function createAgent (config: Readonly<ResolvedAgentConfig>, deps: AgentDeps = {}): Agent {
  const s = config
  const instance = newInstanceId()
  const log = componentLogger(deps.log ?? createLogger({ role: 'agent', level: config.logLevel }), 'agent')
    .child({ host: s.hostId, instance })
  const registry = deps.metrics ?? createMetricsRegistry('agent')
  const metrics = createAgentMetrics(registry)
  const docker = deps.docker ?? new (loadDockerode())(dockerOptions(config.docker))
  const subj = subjects(s.prefix)

  let nc: NatsConnection | undefined = deps.nc
  let watcher: DockerWatcher | undefined
  let handler: EventHandler | undefined
  let snapshots: SnapshotTaker | undefined
  let heartbeat: Heartbeat | undefined
  let publisher: Publisher | undefined
  let ipamDriver: IpamDriver | undefined
  let binder: IpamBinder | undefined
  let reconciler: ReconcileRunner | undefined
  let logs: LogManager | undefined
  let shims: ShimAndDns | undefined
  // The agent's own HTTP health checks (issue 19); verdicts go out through the handler.
  const health = new HealthMonitor({ log: componentLogger(log, 'health'), metrics: registry, onChange: (id) => { handler?.healthChanged(id) } })
  let stats: StatsReporter | undefined
  let started = false
  let closed = false

  async function start (): Promise<void> {
    if (started) return
    started = true
    nc ??= await connectNats(natsOptionsFrom(config, `driftgate-agent-${s.hostId}`), log)
    const conn = nc
    await ensureStream(await conn.jetstreamManager(), { prefix: s.prefix })
    const networks = new MacvlanNetworks(docker, log)
    const reservations = new Reservations(docker)
    if (s.ipamDriverName !== undefined) {
      // Before the first snapshot: dockerd may already be starting containers on our networks.
      ipamDriver = await startIpamDriver({ nc: conn, host: s.hostId, name: s.ipamDriverName, socketDir: s.ipamSocketDir, log, metrics: registry, prefix: s.prefix })
      self.ipamSocketPath = ipamDriver.socketPath
      const retries = ipamRetriesCounter(registry)
      binder = new IpamBinder({
        docker, networks, log, driverName: s.ipamDriverName, host: s.hostId, failed: metrics.ipamBindFailed,
        bind: async (req) => await bindByMac(conn, req, s.prefix, (op, why) => retries.inc({ op, why })),
        isRunning: (id) => reservations.isRunning(id),
      })
    }
    const bind = binder
    if (s.shim && !closed) {
      // Before the first snapshot: it lists the shims' IPAM bindings, so the leak collector keeps them.
      shims = await startShimAndDns({ config: s, nc: conn, docker, log, metrics: registry, onRetry: (op, why) => ipamRetriesCounter(registry).inc({ op, why }) })
    }
    const shim = shims
    publisher = new Publisher({
      nc: conn,
      js: conn.jetstream({ timeout: 5000 }),
      subjects: subj,
      host: s.hostId,
      instance,
      metrics,
      log,
      now,
      onFailure: (kind) => { void snapshots?.request(`${kind} publish failed`) },
    })
    handler = new EventHandler({
      docker, networks, publisher, reservations, metrics, log,
      defaultNetwork: s.network,
      onTrace: deps.onTrace,
      onTrouble: (why) => { void snapshots?.request(why) },
      onInspected: bind !== undefined ? (c) => { bind.fromInspect(c) } : undefined,
      health,
    })
    snapshots = new SnapshotTaker({
      docker, networks, reservations, handler, publisher, metrics, log,
      defaultNetwork: s.network,
      intervalMs: s.resyncMs,
      ensureStream: async () => { await ensureStream(await conn.jetstreamManager(), { prefix: s.prefix }) },
      onListed: bind !== undefined ? (items) => { bind.fromList(items) } : undefined,
      extraContainers: shim !== undefined ? () => shim.containerIds() : undefined,
    })
    heartbeat = new Heartbeat({
      docker, reservations, log,
      intervalMs: s.heartbeatMs,
      build: (capacity, allocated) => ({
        v: 1, host: s.hostId, instance, sentAt: Date.now(), capacity, allocated, labels: s.hostLabels,
        ...(s.hostAddress !== undefined ? { address: s.hostAddress } : {}),
      }),
      send: (msg) => publisher?.heartbeat(msg),
    })
    if (s.logs) {
      logs = new LogManager({
        nc: conn, docker, subjects: subj, host: s.hostId, log: componentLogger(log, 'logs'), metrics: registry,
        budgets: { ...DEFAULT_LOG_BUDGETS, bufferBytes: s.logsBufferBytes, ratePerSecond: s.logsRateLimit, rateBurst: 2 * s.logsRateLimit, ...deps.logBudgets },
      })
    }
    const h = handler
    const snaps = snapshots
    const shipLogs = logs
    watcher = new DockerWatcher({
      docker, log, now,
      watchdogMs: s.watchdogMs,
      onEvent: (ev, at) => { h.onEvent(ev, at); bind?.onEvent(ev); shipLogs?.onEvent(ev) },
      onAttached: ({ first }) => {
        void shipLogs?.resync().catch((err: Error) => { log.warn({ err: err.message }, 'logs: listing containers failed') })
        if (!first) { metrics.reconnects.inc({ target: 'docker' }); heartbeat?.invalidate() }
        void snaps.request(first ? 'start' : 'docker reconnected')
      },
    })
    void watchNats(conn)
    // Subscribed first, then the first snapshot lists containers.
    await watcher.start()
    await snaps.settled()
    snaps.startTimer()
    heartbeat.start()
    if (s.stats) {
      stats = new StatsReporter({ docker, nc: conn, subject: subj.hostStats(s.hostId), host: s.hostId, intervalMs: s.statsMs, log: componentLogger(log, 'stats'), metrics: registry })
      stats.start()
    }
    if (s.reconcile && !closed) {
      // After the first snapshot: the registry knows this host's containers before any is stopped.
      reconciler = runReconciler({
        nc: conn, docker, host: s.hostId, log, metrics: registry, prefix: s.prefix, timings: deps.reconcilerTimings,
        publisher: { markDraining: async (id, service) => { await h.markDraining(id, service) } },
        containerDns: shim?.containerDns,
        healthOf: (id) => health.healthOf(id),
      })
      await reconciler.first
    }
    log.info({ resyncMs: s.resyncMs, heartbeatMs: s.heartbeatMs, network: s.network, reconcile: s.reconcile, ipamDriver: ipamDriver?.socketPath }, 'agent started')
  }

  let statusIter: (AsyncIterable<{ type: string }> & { stop?: () => void }) | undefined
  async function watchNats (conn: NatsConnection): Promise<void> {
    statusIter = conn.status() as typeof statusIter
    for await (const st of statusIter ?? []) {
      if (closed) return
      if (st.type === 'reconnect') {
        metrics.reconnects.inc({ target: 'nats' })
        void snapshots?.request('nats reconnected')
      }
    }
  }

  let closing: Promise<void> | undefined
  async function close (): Promise<void> {
    closed = true
    closing ??= closeInOrder([
      // First: no replica is created or stopped while the rest shuts down.
      { name: 'reconciler', close: async () => await reconciler?.close() },
      { name: 'heartbeat', close: () => { heartbeat?.close(); statusIter?.stop?.() } },
      // Early, while the budget is whole: links are removed and addresses released (IPAM over NATS).
      { name: 'shim', close: async () => await shims?.close() },
      { name: 'stats', close: async () => await stats?.close() },
      { name: 'docker-events', close: async () => await watcher?.close() },
      { name: 'snapshots', close: async () => await snapshots?.close() },
      { name: 'handler', close: async () => { health.close(); await handler?.close(1000) } },
      { name: 'ipam-binder', close: async () => await binder?.close(500) },
      { name: 'ipam-driver', close: async () => await ipamDriver?.close() },
      { name: 'logs', close: async () => await logs?.close(1000) },
      { name: 'publisher', close: async () => await publisher?.drain(1000) },
      { name: 'nats', close: async () => { if (deps.nc == null && nc != null) await nc.close() } },
    ], CLOSE_BUDGET_MS, (step, err) => { log.warn({ step, err: err.message }, 'close step abandoned') })
      .then(() => { log.info('agent stopped') })
    await closing
  }

  const self: Agent = {
    start,
    close,
    instance,
    metrics: registry,
    snapshotNow: async () => {
      if (snapshots == null) throw new Error('agent not started')
      await snapshots.request('requested')
    },
    markDraining: async (id, service) => {
      if (handler == null) throw new Error('agent not started')
      await handler.markDraining(id, service)
    },
  }
  return self
}
