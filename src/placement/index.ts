// Placement inside a registry instance: the lease, the table mirrors and the
// leader loop. Every instance runs this; only the lease holder writes.
import { hostname } from 'node:os'
import type { KV, NatsConnection } from 'nats'
import { Counter } from 'prom-client'
import type { Registry as PromRegistry } from 'prom-client'
import {
  checkAssignmentRecord, checkEndpointRecord, checkHostRecord, checkServiceRecord, componentLogger, newInstanceId,
  type AssignmentRecord, type EndpointRecord, type HostRecord, type Logger, type ServiceRecord,
} from '../core/index.js'
import { KvTable, openBucket, publishActivity, retrying, subjects, Buckets, type BucketName } from '../bus/index.js'
import { ReplicaHealth } from './replica-health.js'
import { Replacer } from './replacer.js'
import { REPLACE_DEFAULTS, type Decision, type ReplacePolicy } from './replace.js'
import { Lease } from './leader.js'
import { PlacementLoop, type PlacementTables } from './loop.js'
import { createPlacementMetrics } from './metrics.js'
import type { ScheduleResult } from './types.js'
import { Autoscaler, HostStatsCollector, createAutoscaleMetrics, type ServiceLoad } from './autoscale/index.js'

export { schedule, isFailStatic } from './scheduler.js'
export { domainOf } from './spread.js'
export { diffAssignments } from './diff.js'
export { Lease, readLease, LEASE_KEY, type LeaseView } from './leader.js'
export { serviceRoutes, type ServiceRoutesOptions } from './routes.js'
export { historyRoutes, psRows, type HistoryRoutesOptions, type PsRow } from './history-routes.js'
export { HISTORY_KEEP, type HistoryEntry } from './history.js'
export { placementStatus, type PlacementStatus } from './status.js'
export { formatBytes, formatCpus } from './capacity.js'
export type { ScheduleInput, ScheduleResult, SpecEntry, Unschedulable } from './types.js'
export type { PlacementTables } from './loop.js'
export { decideReplacements, REPLACE_DEFAULTS, type Decision, type ReplacePolicy, type ReplicaInput, type ReplicaStatus, type Verdict } from './replace.js'
export { ReplicaHealth, replicaStatus } from './replica-health.js'
export { Replacer, replacementDecisions } from './replacer.js'

export {
  decideReplicas, HostStatsCollector, type AutoscaleView, type ServiceLoad, type ServiceRate,
} from './autoscale/index.js'

export type PlacementBuckets = Record<'services' | 'hosts' | 'assignments' | 'leases' | 'endpoints' | 'history', KV>

export interface PlacementConfig {
  /** Lease length; the leader renews every third of it (the registry's placementLease). */
  leaseMs?: number
  /** Quiet time before a scheduler run after a change. */
  debounceMs?: number
  /** A full run this often while leader. */
  resyncMs?: number
  /** Shown as the lease holder; a random suffix keeps it unique per process. */
  name?: string
  /** Replacement of unhealthy replicas (issue 19); defaults REPLACE_DEFAULTS. */
  replace?: Partial<ReplacePolicy>
  /** Autoscaler: one evaluation of every autoscaled service this often (leader only). */
  autoscaleIntervalMs?: number
  /** NATS subject prefix (host stats in, activity events out). */
  prefix?: string
}

/** Placement's timings when the registry does not set them: the one place they are written. */
export const PLACEMENT_DEFAULTS = Object.freeze({ leaseMs: 10_000, debounceMs: 200, resyncMs: 30_000, autoscaleIntervalMs: 15_000, prefix: 'driftgate' })

export type ResolvedPlacementConfig = Readonly<Required<Omit<PlacementConfig, 'name' | 'replace'>> & Pick<PlacementConfig, 'name' | 'replace'>>

export function resolvePlacementConfig (cfg: PlacementConfig = {}): ResolvedPlacementConfig {
  return Object.freeze({ ...PLACEMENT_DEFAULTS, ...Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)) })
}

/** What placement runs on: the registry's connection, buckets, logger and metrics. */
export interface PlacementDeps {
  nc: NatsConnection
  /** The buckets (e.g. from ensureBuckets); missing ones are opened. */
  kv?: Partial<PlacementBuckets>
  log: Logger
  metrics: PromRegistry
  /** Request rates per service (the renderers' counts); the autoscaler's requestsPerReplica target reads it. */
  load?: ServiceLoad
  /**
   * Started mirrors of the endpoints and hosts buckets to read instead of
   * watching them again (the registry's own): one decoded copy of each
   * record per process. Placement neither starts nor closes them.
   */
  tables?: { endpoints: KvTable<EndpointRecord>, hosts: KvTable<HostRecord> }
}

export interface PlacementOptions extends PlacementDeps {
  config?: PlacementConfig
}

export interface Placement {
  start: () => Promise<void>
  close: () => Promise<void>
  isLeader: () => boolean
  holder: string
  /** The table mirrors (after start). */
  tables: PlacementTables
  /** The leader's last scheduler result (undefined on followers). */
  last: () => ScheduleResult | undefined
  /** Runs the loop now (tests, or after an operator action). */
  trigger: () => void
}

async function bucket (nc: NatsConnection, kv: Partial<PlacementBuckets> | undefined, k: keyof PlacementBuckets, log: Logger): Promise<KV> {
  return kv?.[k] ?? await retrying(`open ${k}`, async () => await openBucket(nc, Buckets[k] as BucketName), { log })
}

/** The role contract: `createPlacement(config, deps) → { start(), close() }`. */
export function createPlacement (config: PlacementConfig, deps: PlacementDeps): Placement {
  const cfg = resolvePlacementConfig(config)
  let running: Omit<Placement, 'start'> | undefined
  let closed = false
  const self: Placement = {
    async start () {
      if (running !== undefined || closed) return
      running = await run(cfg, deps)
      self.holder = running.holder
      self.tables = running.tables
    },
    async close () { closed = true; await running?.close() },
    isLeader: () => running?.isLeader() ?? false,
    holder: '',
    tables: undefined as unknown as PlacementTables,
    last: () => running?.last(),
    trigger: () => { running?.trigger() },
  }
  return self
}

/** createPlacement(opts.config, opts) and start it. */
export async function startPlacement (opts: PlacementOptions): Promise<Placement> {
  const p = createPlacement(opts.config ?? {}, opts)
  await p.start()
  return p
}

async function run (cfg: ResolvedPlacementConfig, opts: PlacementDeps): Promise<Omit<Placement, 'start'>> {
  const log = componentLogger(opts.log, 'placement')
  const metrics = createPlacementMetrics(opts.metrics)
  const [services, hosts, assignments, leases, endpoints, history] = await Promise.all(
    (['services', 'hosts', 'assignments', 'leases', 'endpoints', 'history'] as const).map(async (k) => await bucket(opts.nc, opts.kv, k, log)))
  const table = <T>(kv: KV, name: string, check: { problems: (v: unknown) => unknown }): KvTable<T> => new KvTable<T>({
    kv,
    log,
    decode: (v) => (check.problems(v) === null ? v as T : null),
    onInvalid: (key, reason) => {
      metrics.invalid.inc({ bucket: name })
      log.warn({ bucket: name, key, reason }, 'invalid value ignored')
    },
  })
  const shared = opts.tables
  const tables: PlacementTables = {
    services: table<ServiceRecord>(services, 'services', checkServiceRecord),
    hosts: shared?.hosts ?? table<HostRecord>(hosts, 'hosts', checkHostRecord),
    assignments: table<AssignmentRecord>(assignments, 'assignments', checkAssignmentRecord),
  }
  const endpointTable = shared?.endpoints ?? table<EndpointRecord>(endpoints, 'endpoints', checkEndpointRecord)
  const replicaHealth = new ReplicaHealth(endpointTable)
  tables.replicaHealth = replicaHealth
  const holder = `${(cfg.name ?? hostname()).replace(/[^a-zA-Z0-9._-]/g, '-').slice(0, 100)}-${newInstanceId()}`
  let lease: Lease | undefined
  const js = opts.nc.jetstream()
  // Issue 19: each change of a replica's replacement verdict (replace, replacing, waiting, backoff, capped).
  const verdicts = new Counter({ name: 'driftgate_placement_replica_verdicts_total', help: 'Unhealthy-replica verdict changes by the leader, by verdict', labelNames: ['verdict'], registers: [opts.metrics] })
  const replacer = new Replacer({
    health: replicaHealth,
    log,
    trigger: () => { loop.trigger() },
    policy: { ...REPLACE_DEFAULTS, ...cfg.replace },
    onDecision: (d, at) => { verdicts.inc({ verdict: d.verdict }); publishDecision(js, d, at, log) },
  })
  const loop = new PlacementLoop({
    replacer,
    tables,
    assignmentsKv: assignments,
    log,
    metrics,
    isLeader: () => lease?.isLeader() ?? false,
    debounceMs: cfg.debounceMs,
    resyncMs: cfg.resyncMs,
  })
  loop.attach()
  const started: Array<{ close: () => Promise<void> }> = []
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      for (const c of started.reverse()) await c.close().catch((err: Error) => { log.warn({ err: err.message }, 'close failed') })
      metrics.leader.set(0)
    })()
    await closing
  }
  try {
    const own = shared === undefined ? [tables.services, tables.hosts, tables.assignments, endpointTable] : [tables.services, tables.assignments]
    for (const t of own) {
      await t.start()
      started.push(t)
    }
    replicaHealth.attach()
    started.push({ close: async () => { replicaHealth.detach(); replacer.close() } })
    started.push(loop) // closed before the tables (reverse order)
    const cpu = new HostStatsCollector({ nc: opts.nc, subject: subjects(cfg.prefix).allHostStats, log, metrics: opts.metrics })
    cpu.start()
    started.push({ close: async () => { cpu.close() } })
    const js = opts.nc.jetstream()
    const autoscaler = new Autoscaler({
      services: tables.services, kv: { services, leases, history }, cpu, load: opts.load, log, metrics: createAutoscaleMetrics(opts.metrics),
      isLeader: () => lease?.isLeader() ?? false,
      unschedulable: (service) => loop.last?.unschedulable.filter((u) => u.service === service).length ?? 0,
      intervalMs: cfg.autoscaleIntervalMs,
      publish: (event, id) => {
        publishActivity(js, event, id, cfg.prefix).catch((err: Error) => { log.debug({ err: err.message }, 'autoscale activity not published') })
      },
    })
    autoscaler.start()
    started.push(autoscaler)
    lease = new Lease({
      kv: leases,
      holder,
      leaseMs: cfg.leaseMs,
      log,
      onChange: (leader) => {
        metrics.leader.set(leader ? 1 : 0)
        if (leader) loop.trigger()
      },
    })
    lease.start()
    started.push(lease)
  } catch (err) {
    await close()
    throw err
  }
  log.info({ holder, leaseMs: cfg.leaseMs }, 'placement started')
  return {
    close,
    isLeader: () => lease?.isLeader() ?? false,
    holder,
    tables,
    last: () => loop.last,
    trigger: () => { loop.trigger() },
  }
}

/** A replacement verdict worth an operator's eye goes to the activity feed (only the leader decides: one copy). */
function publishDecision (js: ReturnType<NatsConnection['jetstream']>, d: Decision, at: number, log: Logger): void {
  if (d.verdict !== 'replace' && d.verdict !== 'backoff' && d.verdict !== 'capped') return
  const host = d.key.split('.')[0]
  const what = d.verdict === 'replace' ? 'replaced' : d.verdict === 'backoff' ? 'backs off' : 'waits (capped)'
  publishActivity(js, {
    kind: 'placement', at, service: d.service, host,
    message: `placement: ${d.service} replica ${d.replica} on ${host} ${what}: ${d.reason}`,
    data: { replica: d.replica, verdict: d.verdict, reason: d.reason },
  }, `x:${d.key}:${d.verdict}:${at}`).catch((err: Error) => { log.debug({ err: err.message }, 'replacement decision not in the activity feed') })
}
export {
  writeSpec, deleteSpec, type SpecWriteResult,
} from './spec-store.js'
