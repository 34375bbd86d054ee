// Starts the agent's placement reconciler once the registry has made the
// assignments and services buckets. The agent only binds to them: creating
// them here would give them this agent's replica count instead of the
// registry's (a three-node cluster wants three). Until they exist, or while
// NATS is away, it retries with backoff; the agent keeps publishing meanwhile.
import type Dockerode from 'dockerode'
import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import type { Health, Logger } from '../../core/index.js'
import { Buckets, openBucket } from '../../bus/index.js'
import { startReconciler, type ReconcilerOptions, type DrainPublisher, type ReconcilerTimings, type RunningReconciler } from './index.js'
import { backoffDelay, Sleeper } from '../../core/index.js'

export type ReconcilerTimingOptions = Partial<ReconcilerTimings> & { rendererSilentMs?: number }

export interface ReconcileRunnerOptions {
  nc: NatsConnection
  docker: Dockerode
  host: string
  log: Logger
  metrics: Registry
  publisher: DrainPublisher
  prefix: string
  timings?: ReconcilerTimingOptions
  containerDns?: ReconcilerOptions['containerDns']
  /** The agent's own health verdict for a container, if it checks it (readiness of a new replica). */
  healthOf?: (containerId: string) => Health | undefined
}

export interface ReconcileRunner {
  /** Resolves after the first attempt (started or not). */
  first: Promise<void>
  running: () => boolean
  close: () => Promise<void>
}

async function bucketsExist (nc: NatsConnection): Promise<boolean> {
  const jsm = await nc.jetstreamManager()
  for (const name of [Buckets.assignments, Buckets.services]) {
    try { await jsm.streams.info(`KV_${name}`) } catch { return false }
  }
  return true
}

export function runReconciler (o: ReconcileRunnerOptions): ReconcileRunner {
  const sleeper = new Sleeper()
  let rec: RunningReconciler | undefined
  let closed = false
  let firstDone: () => void = () => {}
  const first = new Promise<void>((resolve) => { firstDone = resolve })

  const attempt = async (): Promise<void> => {
    if (!await bucketsExist(o.nc)) throw new Error('buckets driftgate_assignments/driftgate_services do not exist yet (no registry has started)')
    const kv = { assignments: await openBucket(o.nc, Buckets.assignments), services: await openBucket(o.nc, Buckets.services) }
    const started = await startReconciler({ nc: o.nc, docker: o.docker, host: o.host, log: o.log, metrics: o.metrics, publisher: o.publisher, prefix: o.prefix, kv, timings: o.timings, containerDns: o.containerDns, healthOf: o.healthOf })
    if (closed) { await started.close(); return }
    rec = started
  }

  const loop = (async () => {
    for (let n = 1; !closed && rec === undefined; n++) {
      try {
        await attempt()
      } catch (err) {
        const delayMs = backoffDelay(n, { baseMs: 1000, maxMs: 30_000 })
        o.log.warn({ attempt: n, delayMs, err: (err as Error).message }, 'reconciler not started yet, retrying')
        firstDone()
        await sleeper.sleep(delayMs)
        continue
      }
      firstDone()
    }
  })().finally(() => { firstDone() })

  let closing: Promise<void> | undefined
  return {
    first,
    running: () => rec !== undefined,
    close: async () => {
      closing ??= (async () => {
        closed = true
        sleeper.wakeAll()
        await loop
        await rec?.close()
      })()
      await closing
    },
  }
}
