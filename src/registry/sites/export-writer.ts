// Keeps `driftgate_export_endpoints` equal to this site's endpoint table with
// PLAIN puts and deletes, for the other sites to mirror (issue 21). Registries
// write `driftgate_endpoints` with CAS, and a nats-server 2.9.10 mirror
// re-checks that header: once it misses one revision of a key it refuses every
// later one (nats-server #5865). A plain put has no such header. One writer per
// site: the holder of the `site-export` lease (driftgate_leases); it resyncs
// (puts what differs, deletes what is gone) on gaining the lease and every
// resyncMs, and otherwise follows each change of the local table.
import type { KV } from 'nats'
import { Counter, type Registry } from 'prom-client'
import type { EndpointRecord, Logger } from '../../core/index.js'
import { KvTable, encodeJson, type TableChange } from '../../bus/index.js'
import { Lease } from '../../placement/index.js'
import { planExport } from './export-plan.js'

export const EXPORT_LEASE_KEY = 'site-export'

export interface ExportWriterOptions {
  /** The local endpoint table (the registry's started one). */
  endpoints: KvTable<EndpointRecord>
  /** driftgate_export_endpoints */
  exportKv: KV
  leases: KV
  holder: string
  leaseMs: number
  resyncMs: number
  log: Logger
  metrics: Registry
}

export class ExportWriter {
  private readonly exported: KvTable<unknown>
  private readonly lease: Lease
  private queue: Promise<void> = Promise.resolve()
  private timer?: NodeJS.Timeout
  private closed = false
  private failing = false
  private readonly writes: Counter<'op'>
  private readonly failures: Counter
  private readonly onChange = (c: TableChange<EndpointRecord>): void => {
    if (!this.lease.isLeader()) return
    this.enqueue(async () => {
      if (c.value === undefined) await this.o.exportKv.delete(c.key)
      else await this.o.exportKv.put(c.key, encodeJson(c.value))
      this.writes.inc({ op: c.value === undefined ? 'delete' : 'put' })
    })
  }

  constructor (private readonly o: ExportWriterOptions) {
    this.exported = new KvTable({ kv: o.exportKv, log: o.log, decode: (v) => v })
    this.writes = new Counter({ name: 'driftgate_site_export_writes_total', help: 'endpoint export writes for the other sites, by op (put, delete)', labelNames: ['op'], registers: [o.metrics] })
    this.failures = new Counter({ name: 'driftgate_site_export_write_failures_total', help: 'endpoint export writes that failed (a resync follows)', registers: [o.metrics] })
    this.lease = new Lease({
      kv: o.leases, key: EXPORT_LEASE_KEY, holder: o.holder, leaseMs: o.leaseMs, log: o.log,
      onChange: (leader) => { if (leader) this.enqueue(async () => await this.resync()) },
    })
  }

  async start (): Promise<void> {
    await this.exported.start()
    this.o.endpoints.on('change', this.onChange)
    this.lease.start()
    this.schedule()
  }

  isLeader (): boolean { return this.lease.isLeader() }

  /** Writes run one at a time, in the order the table changed. */
  private enqueue (fn: () => Promise<void>): void {
    this.queue = this.queue.then(fn).then(() => {
      if (this.failing) this.o.log.info('endpoint export written again')
      this.failing = false
    }, (err: unknown) => {
      this.failures.inc()
      if (!this.failing) this.o.log.warn({ err }, 'endpoint export write failed; the next resync repairs it')
      this.failing = true
    })
  }

  private schedule (): void {
    if (this.closed) return
    this.timer = setTimeout(() => {
      if (this.lease.isLeader()) this.enqueue(async () => await this.resync())
      void this.queue.finally(() => this.schedule())
    }, this.failing ? Math.min(1000, this.o.resyncMs) : this.o.resyncMs)
  }

  /** Puts what differs and deletes what is gone, against the export as watched. */
  async resync (): Promise<void> {
    const plan = planExport(this.o.endpoints.entries, this.exported.entries)
    for (const [k, v] of plan.put) {
      if (this.closed || !this.lease.isLeader()) return
      await this.o.exportKv.put(k, encodeJson(v))
      this.writes.inc({ op: 'put' })
    }
    for (const k of plan.del) {
      if (this.closed || !this.lease.isLeader()) return
      await this.o.exportKv.delete(k)
      this.writes.inc({ op: 'delete' })
    }
    if (plan.put.length + plan.del.length > 0) this.o.log.info({ put: plan.put.length, deleted: plan.del.length }, 'endpoint export resynced')
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.o.endpoints.off('change', this.onChange)
    await this.queue
    await this.lease.close()
    await this.exported.close()
  }
}
