// The IPAM allocator of a registry instance: answers `driftgate.ipam.<host>.<op>`
// requests in the queue group `ipam` (any instance answers any request),
// collects leaks from host snapshots (queue group `ipam-gc`), and ends
// quarantines. Holds no state of its own beyond a mirror of the KV bucket.
import type { KV, NatsConnection, Subscription } from 'nats'
import type { Registry } from 'prom-client'
import { LogOnce, componentLogger, type Logger } from '../../core/index.js'
import { subjects } from '../../bus/index.js'
import { IpamMirror } from './mirror.js'
import { Allocator } from './allocator.js'
import { allocatorMetrics } from './metrics.js'
import { sweep, type GcDeps } from './gc.js'
import { handleRequest, handleSnapshot } from './handlers.js'
import { BlockWriter, type BlockWriterStats } from './block-writer.js'
import { BlockAllocator } from './block-allocator.js'
import { kvBlockStore } from './store.js'
import { randomUUID } from 'node:crypto'

export { ipamRoutes, type IpamRoutesOptions } from './routes.js'
export { buildPool, viewPool, candidates, checkStatic, type PoolInput } from './pool.js'

export interface IpamAllocatorConfig {
  /** How long a released address waits before reuse (stale ARP caches). Default 60 s. */
  quarantineMs?: number
  /** A reserved address never bound within this is released. Default 120 s. */
  reserveGraceMs?: number
  /** A host `down` for longer than this loses its addresses. Default 15 min. */
  downGraceMs?: number
  /** How often quarantines and down hosts are checked. Default min(5 s, quarantine / 4). */
  sweepMs?: number
  /** Block-layout pools: how long this instance's lease on a block lasts past its last write. Default 30 s. */
  blockLeaseMs?: number
  /** This instance's lease holder id (default: random per start). */
  instanceId?: string
  prefix?: string
}

export interface IpamAllocatorOptions {
  nc: NatsConnection
  kv: { ipam: KV, hosts?: KV }
  log: Logger
  metrics: Registry
  config?: IpamAllocatorConfig
}

/** Block-layout counters for the bench: the writer's and the block picker's. */
export type IpamAllocatorStats = BlockWriterStats & BlockAllocator['stats']

export interface IpamAllocator {
  close: () => Promise<void>
  /** Block-layout writes: batched writes, ops they carried, lost races, picker refusals (bench and tests). */
  blockStats: () => IpamAllocatorStats
}

export async function startIpamAllocator (opts: IpamAllocatorOptions): Promise<IpamAllocator> {
  const log = componentLogger(opts.log, 'ipam')
  const cfg = opts.config ?? {}
  const quarantineMs = cfg.quarantineMs ?? 60_000
  const gcConfig = { quarantineMs, reserveGraceMs: cfg.reserveGraceMs ?? 120_000, downGraceMs: cfg.downGraceMs ?? 15 * 60_000 }
  const metrics = allocatorMetrics(opts.metrics)
  const once = new LogOnce(log)
  const mirror = new IpamMirror(opts.kv.ipam, log, (key) => {
    metrics.invalid.inc({ what: 'kv' })
    once.warn('kv-invalid', { key }, 'ipam: invalid KV value ignored')
  })
  await mirror.start()
  const writer = new BlockWriter(kvBlockStore(opts.kv.ipam), (key) => mirror.blocks.get(key),
    () => { metrics.conflicts.inc({ op: 'block' }) },
    (ops) => { metrics.blockWrites.inc(); metrics.blockOps.inc(ops) })
  const holder = cfg.instanceId ?? randomUUID().slice(0, 13)
  const blocks = new BlockAllocator({ writer, mirror, holder, leaseMs: cfg.blockLeaseMs ?? 30_000 })
  const allocator = new Allocator({ kv: opts.kv.ipam, mirror, metrics, quarantineMs, blocks })
  const gc: GcDeps = { kv: opts.kv.ipam, hosts: opts.kv.hosts, mirror, metrics, log, config: gcConfig, blocks }
  const subj = subjects(cfg.prefix)
  const pending = new Set<Promise<void>>()
  const track = (p: Promise<void>): void => { pending.add(p); void p.finally(() => pending.delete(p)) }

  const requests: Subscription = opts.nc.subscribe(subj.allIpam, {
    queue: 'ipam',
    callback: (err, msg) => { if (err == null) track(handleRequest(allocator, metrics, once, subj, msg)) },
  })
  const snapshots: Subscription = opts.nc.subscribe(subj.allSnapshots, {
    queue: 'ipam-gc',
    callback: (err, msg) => { if (err == null) track(handleSnapshot(gc, once, subj, msg)) },
  })
  let sweeping = false
  const timer = setInterval(() => {
    if (sweeping) return
    sweeping = true
    track(sweep(gc).catch((err: unknown) => { log.warn({ err }, 'ipam sweep failed') }).finally(() => { sweeping = false }))
  }, cfg.sweepMs ?? Math.max(250, Math.min(5000, quarantineMs / 4)))
  timer.unref()
  log.info({ quarantineMs, reserveGraceMs: gcConfig.reserveGraceMs, pools: mirror.pools.size }, 'ipam allocator started')

  let closing: Promise<void> | undefined
  return {
    blockStats: () => ({ ...writer.stats, ...blocks.stats }),
    close: async () => {
      closing ??= (async () => {
        clearInterval(timer)
        requests.unsubscribe()
        snapshots.unsubscribe()
        await Promise.allSettled([...pending])
        await mirror.close()
      })()
      await closing
    },
  }
}
