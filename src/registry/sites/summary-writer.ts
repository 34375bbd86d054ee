// Writes this registry's summary (core/site-summary.ts) to `driftgate_site`
// every interval with a plain put: one writer per key, so no CAS header,
// which is what keeps the other sites' mirrors of it flowing on nats-server
// 2.9.10 (a mirror re-checks CAS headers and stalls on a missed revision).
import type { KV } from 'nats'
import { Counter, type Registry } from 'prom-client'
import type { EndpointRecord, HostRecord, Logger, ServiceRecord } from '../../core/index.js'
import { checkEndpointRecord, checkHostRecord, checkServiceRecord } from '../../core/index.js'
import { KvTable, encodeJson } from '../../bus/index.js'
import { buildSummary } from './summary.js'

export interface SummaryWriterOptions {
  kv: { site: KV, hosts: KV, endpoints: KV, services: KV }
  site: string
  registry: string
  intervalMs: number
  log: Logger
  metrics: Registry
}

const valid = <T>(check: { problems: (v: unknown) => unknown }) => (v: unknown): T | null => (check.problems(v) === null ? v as T : null)

/** KV keys allow `[-/_=.a-zA-Z0-9]`; a registry name may hold more. */
export const summaryKey = (registry: string): string => registry.replace(/[^-_=.a-zA-Z0-9]/g, '_')

export class SummaryWriter {
  private readonly hosts: KvTable<HostRecord>
  private readonly endpoints: KvTable<EndpointRecord>
  private readonly services: KvTable<ServiceRecord>
  private timer?: NodeJS.Timeout
  private closed = false
  private failing = false
  private readonly failures: Counter

  constructor (private readonly o: SummaryWriterOptions) {
    this.hosts = new KvTable({ kv: o.kv.hosts, log: o.log, decode: valid<HostRecord>(checkHostRecord) })
    this.endpoints = new KvTable({ kv: o.kv.endpoints, log: o.log, decode: valid<EndpointRecord>(checkEndpointRecord) })
    this.services = new KvTable({ kv: o.kv.services, log: o.log, decode: valid<ServiceRecord>(checkServiceRecord) })
    this.failures = new Counter({ name: 'driftgate_site_summary_write_failures_total', help: 'summary writes for the other sites that failed', registers: [o.metrics] })
  }

  async start (): Promise<void> {
    await Promise.all([this.hosts.start(), this.endpoints.start(), this.services.start()])
    await this.write()
    this.schedule()
  }

  private schedule (): void {
    if (this.closed) return
    this.timer = setTimeout(() => { void this.write().finally(() => this.schedule()) }, this.o.intervalMs)
  }

  async write (): Promise<void> {
    const s = buildSummary(this.o.site, this.o.registry, Date.now(), this.hosts.entries.values(),
      this.endpoints.entries.values(), this.services.entries.values())
    try {
      await this.o.kv.site.put(summaryKey(this.o.registry), encodeJson(s))
      if (this.failing) this.o.log.info({ site: this.o.site }, 'site summary written again')
      this.failing = false
    } catch (err) {
      this.failures.inc()
      if (!this.failing) this.o.log.warn({ err, site: this.o.site }, 'writing the site summary failed; the other sites will think this one silent')
      this.failing = true
    }
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await Promise.all([this.hosts.close(), this.endpoints.close(), this.services.close()])
  }
}
