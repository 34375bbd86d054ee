// Service lookup over HTTP and DNS, served by every registry instance from
// an in-memory view of the endpoints, hosts and services buckets.
import type { KV, NatsConnection } from 'nats'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { Counter, type Registry } from 'prom-client'
import {
  checkEndpointRecord, checkHostRecord, checkServiceRecord, componentLogger, ConfigError, isDnsLabel, LogOnce,
  type FieldProblem,
  type EndpointRecord, type HostRecord, type Logger, type ServiceRecord,
} from '../../core/index.js'
import { KvTable } from '../../bus/index.js'
import { LookupView, type LookupSites, type LookupTables } from './view.js'
import { sitesRoutes } from './routes/sites.js'
import { buildApi } from './api.js'
import { createAuth } from './auth.js'
import { DnsServer } from './dns/server.js'
import { parseUpstream } from '../../dns/index.js'
import { DEFAULT_FORWARD_ALLOW, ForwardAllow, forwardAllowProblems } from './dns/allow.js'

export { LookupView, isHealthyRunning } from './view.js'
export type { LookupTables, ServiceEntry, LookupSites } from './view.js'
export { buildApi, type ApiOptions } from './api.js'
export { createAuth, readTokenFile, type Auth, type AuthConfig } from './auth.js'
export { DnsServer, type DnsServerOptions } from './dns/server.js'
export { answerQuery, type AnswerConfig } from './dns/answer.js'
export { errorBody, statusOf } from './errors.js'
export { INDEX_HEADER } from './routes/endpoints.js'
export { logsRoutes } from './routes/logs.js'

/** Where the API and DNS listen unless told otherwise: loopback (like Consul's client address). */
export const DEFAULT_LISTEN_HOST = '127.0.0.1'

export interface LookupConfig {
  httpPort: number
  /** Default 127.0.0.1. */
  httpHost?: string
  dnsPort: number
  /** Default 127.0.0.1. */
  dnsHost?: string
  /** DNS zone, default "driftgate". */
  domain?: string
  /** TTL of answers in seconds, default 0. */
  dnsTtl?: number
  /** Resolvers ("ip" or "ip:port") for names outside the domain; empty = REFUSED. */
  dnsForward?: string[]
  dnsForwardTimeoutMs?: number
  /** Write tokens (a comma-free list, or one). */
  apiToken?: string | string[]
  /** File of write tokens, one per line, `#` comments. */
  apiTokenFile?: string
  /** When set, reads need this (or a write) token. */
  apiReadToken?: string | string[]
  /** Time to receive a whole HTTP request, headers and body (default 30 s). */
  httpRequestTimeoutMs?: number
  /** Parked blocking queries overall and per client address (429 beyond). */
  maxBlockingQueries?: number
  maxBlockingQueriesPerClient?: number
  /** Clients whose outside names are forwarded: CIDRs, `loopback`, `pools` (default both words). */
  dnsForwardAllow?: string[]
  /** Largest UDP reply whatever EDNS size is asked (512-4096, default 1232). */
  dnsUdpMax?: number
  /** DNS responses per second per client address (0 = off; default 1000) and burst (default 2000). */
  dnsRateLimit?: number
  dnsRateBurst?: number
  /** DNS over TCP: connections at once (default 512); idle or not-draining time before a client is dropped (default 10 s). */
  dnsTcpMaxConnections?: number
  dnsTcpIdleMs?: number
}

export interface LookupOptions {
  nc?: NatsConnection
  /** The three buckets; lookup mirrors them itself. */
  kv?: { endpoints: KV, hosts: KV, services: KV }
  /** Or tables another component already started (shared mirrors, no second watch). */
  tables?: LookupTables
  log: Logger
  metrics: Registry
  config: LookupConfig
  /** Write routes (placement, IPAM), registered before listen; write routes get the token check before their body is read. */
  plugins?: FastifyPluginAsync[]
  /** The IPAM bucket: its `pool.*` subnets are allowed to use DNS forwarding when `pools` is in dnsForwardAllow. */
  ipam?: KV
  /** This site and the other sites' mirrored tables (failover answers, GET /v1/sites). */
  sites?: LookupSites
}

export interface Lookup {
  httpPort: number
  dnsPort: number
  api: FastifyInstance
  view: LookupView
  dns: DnsServer
  close: () => Promise<void>
}

function mirrors (kv: NonNullable<LookupOptions['kv']>, log: Logger, metrics: Registry): LookupTables {
  const invalid = new Counter({
    name: 'driftgate_lookup_invalid_values_total', help: 'KV values ignored by lookup because they failed their schema',
    labelNames: ['bucket', 'reason'], registers: [metrics],
  })
  const once = new LogOnce(log)
  const onInvalid = (bucket: string) => (key: string, reason: string): void => {
    invalid.inc({ bucket, reason })
    once.warn(`${bucket}:${reason}`, { bucket, key }, 'ignoring invalid KV value')
  }
  const valid = <T>(check: { problems: (v: unknown) => unknown }) => (v: unknown): T | null => (check.problems(v) === null ? v as T : null)
  return {
    endpoints: new KvTable<EndpointRecord>({ kv: kv.endpoints, log, decode: valid(checkEndpointRecord), onInvalid: onInvalid('endpoints') }),
    hosts: new KvTable<HostRecord>({ kv: kv.hosts, log, decode: valid(checkHostRecord), onInvalid: onInvalid('hosts') }),
    services: new KvTable<ServiceRecord>({ kv: kv.services, log, decode: valid(checkServiceRecord), onInvalid: onInvalid('services') }),
  }
}

/** Every problem of a lookup configuration at once (ConfigError), before anything starts. */
export function checkLookupConfig (cfg: LookupConfig): void {
  const problems: FieldProblem[] = []
  const port = (field: string, v: unknown): void => {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535) problems.push({ field, message: 'must be a port number (0-65535)' })
  }
  port('httpPort', cfg.httpPort)
  port('dnsPort', cfg.dnsPort)
  const domain = (cfg.domain ?? 'driftgate').replace(/\.$/, '')
  if (domain.length > 200 || !domain.split('.').every(isDnsLabel)) {
    problems.push({ field: 'domain', message: `"${domain.slice(0, 80)}" must be dot-separated DNS labels (lowercase), e.g. driftgate or dg.example.internal` })
  }
  const ttl = cfg.dnsTtl ?? 0
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 86400) problems.push({ field: 'dnsTtl', message: 'must be whole seconds, 0-86400' })
  for (const f of cfg.dnsForward ?? []) {
    try { parseUpstream(f) } catch (err) { problems.push(...((err as ConfigError).problems ?? [{ field: 'dnsForward', message: String(err) }])) }
  }
  problems.push(...forwardAllowProblems(cfg.dnsForwardAllow ?? []))
  const int = (field: string, v: number | undefined, min: number, max: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) problems.push({ field, message: `must be a whole number, ${min}-${max}` })
  }
  int('dnsUdpMax', cfg.dnsUdpMax, 512, 4096)
  int('dnsRateLimit', cfg.dnsRateLimit, 0, 10_000_000)
  int('dnsRateBurst', cfg.dnsRateBurst, 1, 10_000_000)
  int('dnsTcpMaxConnections', cfg.dnsTcpMaxConnections, 1, 1_000_000)
  int('dnsTcpIdleMs', cfg.dnsTcpIdleMs, 100, 3_600_000)
  int('maxBlockingQueries', cfg.maxBlockingQueries, 1, 10_000_000)
  int('maxBlockingQueriesPerClient', cfg.maxBlockingQueriesPerClient, 1, 10_000_000)
  int('httpRequestTimeoutMs', cfg.httpRequestTimeoutMs, 100, 3_600_000)
  if (problems.length > 0) throw new ConfigError('registry', problems)
}

export async function startLookup (opts: LookupOptions): Promise<Lookup> {
  const log = componentLogger(opts.log, 'lookup')
  const cfg = opts.config
  checkLookupConfig(cfg)
  const auth = createAuth(cfg) // config errors surface before anything starts
  const own = opts.tables === undefined
  if (own && opts.kv === undefined) throw new TypeError('startLookup needs kv buckets or started tables')
  const tables = opts.tables ?? mirrors(opts.kv!, log, opts.metrics)
  const cleanups: Array<() => Promise<void> | void> = []
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    for (const c of cleanups.reverse()) await c()
  }
  try {
    if (own) {
      cleanups.push(async () => { await Promise.all([tables.endpoints.close(), tables.hosts.close(), tables.services.close()]) })
      await Promise.all([tables.endpoints.start(), tables.hosts.start(), tables.services.start()])
    }
    const view = new LookupView(tables, opts.sites)
    view.rebuild()
    const dns = new DnsServer({
      view, log, metrics: opts.metrics, host: cfg.dnsHost ?? DEFAULT_LISTEN_HOST, port: cfg.dnsPort, domain: cfg.domain ?? 'driftgate',
      ttl: cfg.dnsTtl ?? 0, forward: cfg.dnsForward ?? [], forwardTimeoutMs: cfg.dnsForwardTimeoutMs,
      forwardAllow: new ForwardAllow(cfg.dnsForwardAllow ?? DEFAULT_FORWARD_ALLOW, opts.ipam, log),
      udpMax: cfg.dnsUdpMax, rateLimit: cfg.dnsRateLimit, rateBurst: cfg.dnsRateBurst,
      maxTcpConnections: cfg.dnsTcpMaxConnections, tcpIdleMs: cfg.dnsTcpIdleMs,
    })
    cleanups.push(() => dns.close())
    await dns.start()
    const api = await buildApi({
      view, log, metrics: opts.metrics, auth, plugins: [...(opts.plugins ?? []), sitesRoutes(view)], requestTimeoutMs: cfg.httpRequestTimeoutMs,
      maxBlockingQueries: cfg.maxBlockingQueries, maxBlockingQueriesPerClient: cfg.maxBlockingQueriesPerClient,
    })
    cleanups.push(() => api.close())
    // Parked blocking queries are answered first, so closing the API does not wait for them.
    cleanups.push(() => view.close())
    await api.listen({ port: cfg.httpPort, host: cfg.httpHost ?? DEFAULT_LISTEN_HOST })
    const addr = api.server.address()
    const httpPort = typeof addr === 'object' && addr !== null ? addr.port : cfg.httpPort
    log.info({ httpHost: cfg.httpHost ?? DEFAULT_LISTEN_HOST, httpPort, dnsHost: dns.address(), dnsPort: dns.port, writes: auth.writeEnabled, readsProtected: auth.readProtected }, 'lookup ready')
    return { httpPort, dnsPort: dns.port, api, view, dns, close }
  } catch (err) {
    await close()
    throw err
  }
}
