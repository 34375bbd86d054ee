// Service load: requests and upstream errors per second per service, from
// the counters lua-mode renderers publish. Built once per registry instance by
// createRegistry and handed to its sub-components (HTTP routes, the
// autoscaler) as `ServiceLoad`.
import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import type { Logger } from '../../core/index.js'
import { LoadRates, type ServiceRate } from './rates.js'
import { subscribeStats } from './subscriber.js'
import { createStatsMetrics } from './metrics.js'

export { LoadRates, increase, type RateOptions, type ServiceRate } from './rates.js'
export { parseStatsMessage, type StatsRefusal } from './subscriber.js'
export { statsRoutes } from './routes.js'

export interface ServiceLoad {
  /** The service's load now, or undefined when no renderer reports it (file mode, none running, all silent). */
  rate: (service: string) => ServiceRate | undefined
  /** Every service some renderer reports, by name. */
  all: () => Record<string, ServiceRate>
  /** Renderers counted now. */
  renderers: () => string[]
  /** Bumped on every accepted report: a blocking read waits for it to move. */
  readonly version: number
  /** Resolves when `version` moves past `seen`, after `ms`, or on `signal`. */
  changed: (seen: number, ms: number, signal?: AbortSignal) => Promise<void>
}

export interface ServiceLoadOptions {
  nc: NatsConnection
  prefix?: string
  log: Logger
  metrics: Registry
  /** The window rates are computed over (the registry's statsWindow). */
  windowMs: number
  now?: () => number
}

export interface RunningServiceLoad extends ServiceLoad { close: () => Promise<void> }

/** Most parked `changed()` waits; past it a wait resolves at once (the caller answers without waiting). */
const MAX_WAITERS = 1000

export function startServiceLoad (opts: ServiceLoadOptions): RunningServiceLoad {
  const now = opts.now ?? Date.now
  const rates = new LoadRates({ windowMs: opts.windowMs })
  const metrics = createStatsMetrics(opts.metrics, () => rates.all(now()))
  const waiters = new Set<() => void>()
  let version = 0
  const wake = (): void => { for (const w of waiters) w(); waiters.clear() }
  const sub = subscribeStats({
    nc: opts.nc, prefix: opts.prefix, log: opts.log,
    accept: (msg) => {
      const r = rates.observe(msg, now())
      if (r === 'ok') { version++; metrics.reports.inc({ result: 'ok' }); wake() }
      return r
    },
    refused: (reason) => { metrics.reports.inc({ result: reason }) },
  })
  // Silent renderers are left out of every answer at once; this only frees their samples.
  const prune = setInterval(() => { rates.prune(now()) }, Math.max(1000, opts.windowMs))
  prune.unref()
  let closed = false
  return {
    rate: (service) => rates.rate(service, now()),
    all: () => rates.all(now()),
    renderers: () => rates.renderers(now()),
    get version () { return version },
    changed: async (seen, ms, signal) => {
      if (version !== seen || closed || waiters.size >= MAX_WAITERS || signal?.aborted === true) return
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(timer); waiters.delete(done); signal?.removeEventListener('abort', done); resolve() }
        const timer = setTimeout(done, ms)
        signal?.addEventListener('abort', done, { once: true })
        waiters.add(done)
      })
    },
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(prune)
      sub.close()
      wake()
    },
  }
}
