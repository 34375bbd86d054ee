// The host agent: wires the Docker watcher, the event handler, snapshots and
// heartbeats to NATS. Subscribes to Docker events before listing containers,
// so nothing started in between is missed; never exits on a transient failure.
import Dockerode from 'dockerode'
import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import { componentLogger, createLogger, createMetricsRegistry, newInstanceId, type Logger } from '../core/index.js'
import { connectNats, ensureStream, subjects, type NatsOptions } from '../bus/index.js'
import { agentSettings, dockerOptions, type AgentConfig } from './config.js'
import { DockerWatcher } from './docker-events.js'
import { EventHandler, type Trace } from './handler.js'
import { Heartbeat, Reservations } from './heartbeat.js'
import { createAgentMetrics } from './metrics.js'
import { MacvlanNetworks } from './networks.js'
import { Publisher } from './publisher.js'
import { SnapshotTaker } from './snapshotter.js'

export interface AgentDeps {
  nc?: NatsConnection
  docker?: Dockerode
  log?: Logger
  metrics?: Registry
  /** Called for every event published (benchmarks measure the agent's own share with it). */
  onTrace?: (t: Trace) => void
}

export interface Agent {
  start: () => Promise<void>
  close: () => Promise<void>
  instance: string
  snapshotNow: () => Promise<void>
  metrics: Registry
}

const now = (): number => performance.timeOrigin + performance.now()

function natsOptions (cfg: AgentConfig, host: string): NatsOptions {
  return {
    servers: cfg.nats ?? 'nats://127.0.0.1:4222',
    name: `driftgate-agent-${host}`,
    user: cfg.natsUser,
    pass: cfg.natsPass,
    token: cfg.natsToken,
    creds: cfg.natsCreds,
    tlsCa: cfg.natsTlsCa,
    tlsCert: cfg.natsTlsCert,
    tlsKey: cfg.natsTlsKey,
  }
}

export function createAgent (config: AgentConfig, deps: AgentDeps = {}): Agent {
  const s = agentSettings(config)
  const instance = newInstanceId()
  const log = componentLogger(deps.log ?? createLogger({ role: 'agent', level: config.logLevel }), 'agent')
    .child({ host: s.hostId, instance })
  const registry = deps.metrics ?? createMetricsRegistry('agent')
  const metrics = createAgentMetrics(registry)
  const docker = deps.docker ?? new Dockerode(dockerOptions(config.docker))
  const subj = subjects(s.prefix)

  let nc: NatsConnection | undefined = deps.nc
  let watcher: DockerWatcher | undefined
  let handler: EventHandler | undefined
  let snapshots: SnapshotTaker | undefined
  let heartbeat: Heartbeat | undefined
  let publisher: Publisher | undefined
  let started = false
  let closed = false

  async function start (): Promise<void> {
    if (started) return
    started = true
    nc ??= await connectNats(natsOptions(config, s.hostId), log)
    const conn = nc
    await ensureStream(await conn.jetstreamManager(), { prefix: s.prefix })
    const networks = new MacvlanNetworks(docker, log)
    const reservations = new Reservations(docker)
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
    })
    snapshots = new SnapshotTaker({
      docker, networks, reservations, handler, publisher, metrics, log,
      defaultNetwork: s.network,
      intervalMs: s.resyncMs,
      ensureStream: async () => { await ensureStream(await conn.jetstreamManager(), { prefix: s.prefix }) },
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
    const h = handler
    const snaps = snapshots
    watcher = new DockerWatcher({
      docker, log, now,
      watchdogMs: s.watchdogMs,
      onEvent: (ev, at) => { h.onEvent(ev, at) },
      onAttached: ({ first }) => {
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
    log.info({ resyncMs: s.resyncMs, heartbeatMs: s.heartbeatMs, network: s.network }, 'agent started')
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

  async function close (): Promise<void> {
    if (closed) return
    closed = true
    heartbeat?.close()
    statusIter?.stop?.()
    await watcher?.close()
    await snapshots?.close()
    await handler?.close()
    await publisher?.drain()
    if (deps.nc == null && nc != null) await nc.close().catch(() => {})
    log.info('agent stopped')
  }

  return {
    start,
    close,
    instance,
    metrics: registry,
    snapshotNow: async () => {
      if (snapshots == null) throw new Error('agent not started')
      await snapshots.request('requested')
    },
  }
}
