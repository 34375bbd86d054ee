// The agent's reconciler: runs the replicas placement assigns to this host.
// Wired by the agent role (src/agent/agent.ts):
//   startReconciler({ nc, docker, host, log, metrics, publisher })
import type Dockerode from 'dockerode'
import type { KV, NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import {
  checkAssignmentRecord, checkServiceRecord, componentLogger, parseAssignmentKey,
  type AssignmentRecord, type Health, type Logger, type ServiceRecord, type ServiceSpec,
} from '../../core/index.js'
import { Buckets, KvTable, openBucket, subjects as makeSubjects } from '../../bus/index.js'
import { AppliedTracker } from './applied.js'
import { Reconciler, hashOf, type DrainPublisher, type ReconcilerTimings } from './reconciler.js'
import { createReconcilerMetrics } from './metrics.js'
import type { HostAssignment } from './plan.js'
import type { ContainerDns } from './container-spec.js'

export { plan, type Action, type HostAssignment } from './plan.js'
export { createOptions, managedOf, containerName, type ManagedContainer, type ContainerDns } from './container-spec.js'
export { AppliedTracker, parseApplied } from './applied.js'
export type { DrainPublisher, ReconcilerTimings } from './reconciler.js'

export interface ReconcilerOptions {
  nc: NatsConnection
  docker: Dockerode
  /** This host's id (the agent's --host-id). */
  host: string
  log: Logger
  metrics: Registry
  /** Marks an endpoint `draining` (the agent's publisher). Without it, stops do not drain first. */
  publisher?: DrainPublisher
  prefix?: string
  kv?: { assignments?: KV, services?: KV }
  timings?: Partial<ReconcilerTimings> & { rendererSilentMs?: number, rendererForgetMs?: number }
  /** The resolver of a new replica (the agent's DNS stub on the shim). */
  containerDns?: (spec: ServiceSpec) => Promise<ContainerDns | undefined>
  /** The agent's own health verdict (issue 19): a new replica with an HTTP check is ready once it says healthy. */
  healthOf?: (containerId: string) => Health | undefined
}

export interface RunningReconciler {
  close: () => Promise<void>
  /** Runs a pass now (tests). */
  trigger: () => void
}

export async function startReconciler (o: ReconcilerOptions): Promise<RunningReconciler> {
  const log = componentLogger(o.log, 'reconciler')
  const metrics = createReconcilerMetrics(o.metrics)
  const prefix = `${o.host}.`
  const assignmentsKv = o.kv?.assignments ?? await openBucket(o.nc, Buckets.assignments)
  const servicesKv = o.kv?.services ?? await openBucket(o.nc, Buckets.services)
  // Only this host's keys are kept; the others are skipped without a warning.
  const assignments = new KvTable<AssignmentRecord>({
    kv: assignmentsKv,
    log,
    metrics: o.metrics,
    decode: (v, key) => (key.startsWith(prefix) && checkAssignmentRecord.problems(v) === null ? v as AssignmentRecord : null),
    onInvalid: (key, reason) => { if (key.startsWith(prefix)) log.warn({ key, reason }, 'invalid assignment ignored') },
  })
  const services = new KvTable<ServiceRecord>({
    kv: servicesKv,
    log,
    metrics: o.metrics,
    decode: (v) => (checkServiceRecord.problems(v) === null ? v as ServiceRecord : null),
    onInvalid: (key, reason) => { log.warn({ key, reason }, 'invalid service record ignored') },
  })
  const t = o.timings ?? {}
  const tracker = new AppliedTracker({
    nc: o.nc, subjects: makeSubjects(o.prefix), log, metrics: o.metrics, silentMs: t.rendererSilentMs ?? 15_000, forgetMs: t.rendererForgetMs ?? 60_000,
  })
  const current = (): HostAssignment[] => {
    const out: HostAssignment[] = []
    for (const [key, a] of assignments.entries) {
      const k = parseAssignmentKey(key)
      if (k === null || k.host !== o.host || a.host !== o.host) continue
      const rec = services.entries.get(a.service)
      out.push({ service: a.service, replica: a.replica, specHash: a.specHash, incarnation: a.incarnation ?? 0, spec: rec !== undefined && hashOf(rec.spec) === a.specHash ? rec.spec : null })
    }
    return out
  }
  const reconciler = new Reconciler({
    docker: o.docker,
    log,
    metrics,
    tracker,
    publisher: o.publisher,
    assignments: current,
    containerDns: o.containerDns,
    healthOf: o.healthOf,
    timings: {
      intervalMs: t.intervalMs ?? 5000,
      drainTimeoutMs: t.drainTimeoutMs ?? 30_000,
      readyTimeoutMs: t.readyTimeoutMs ?? 120_000,
      warmupMs: t.warmupMs ?? 6000,
      settleMs: t.settleMs ?? 1000,
    },
  })
  tracker.start()
  await Promise.all([assignments.start(), services.start()])
  assignments.on('change', () => { reconciler.trigger() })
  services.on('change', () => { reconciler.trigger() })
  reconciler.start()
  log.info({ host: o.host, drain: o.publisher !== undefined }, 'reconciler started')
  let closing: Promise<void> | undefined
  return {
    trigger: () => { reconciler.trigger(0) },
    close: async () => {
      closing ??= (async () => {
        await reconciler.close()
        tracker.close()
        await Promise.all([assignments.close(), services.close()])
      })()
      await closing
    },
  }
}
