// The registry's configuration: its JSON schema (flags > env > YAML, see
// core/config.ts) and the durations resolved once into milliseconds.
import { loadConfig, parseDuration, DURATION_PATTERN, type RoleSchema, type SchemaProp, commonRoleProperties, heapGrowingProperty, type CommonRoleConfig, SITE_PATTERN, ConfigError } from '../core/index.js'
import { createAuth } from './lookup/index.js'

const duration = (def: string, description: string, extra: Partial<SchemaProp> = {}): SchemaProp =>
  ({ type: 'string', pattern: DURATION_PATTERN, default: def, description, ...extra })
const port = (def: number, description: string): SchemaProp => ({ type: 'integer', minimum: 0, maximum: 65535, default: def, description })
const token = (description: string): SchemaProp => ({ type: 'string', minLength: 8, arg: '<token>', description })

export const registrySchema: RoleSchema = {
  type: 'object',
  properties: {
    replicas: { type: 'integer', minimum: 1, maximum: 5, default: 1, description: 'copies of the stream and KV buckets when creating them: 1 for one NATS server, 3 for a cluster' },
    hostGrace: duration('30s', 'a silent host is down (its endpoints removed) after this long'),
    httpPort: port(7070, 'HTTP API port'),
    dnsPort: port(8600, 'DNS port, UDP and TCP'),
    apiToken: token('bearer token required for writes, at least 8 characters (prefer the env variable or --api-token-file)'),
    apiTokenFile: { type: 'string', minLength: 1, arg: '<file>', description: 'file of write tokens, one per line' },
    apiReadToken: token('require this bearer token for reads too'),
    httpHost: { type: 'string', minLength: 1, default: '127.0.0.1', arg: '<addr>', description: 'HTTP API listen address; loopback by default, set 0.0.0.0 (with --api-read-token) to serve other machines' },
    dnsHost: { type: 'string', minLength: 1, default: '127.0.0.1', arg: '<addr>', description: 'DNS listen address (UDP and TCP); loopback by default, e.g. the MacVLAN gateway address to serve containers' },
    dnsTtl: { type: 'integer', minimum: 0, maximum: 86400, default: 0, arg: '<seconds>', description: 'TTL of DNS answers' },
    dnsForward: { type: 'array', items: { type: 'string', pattern: '^[0-9.]+(:[0-9]+)?$' }, default: [], arg: '<ip[:port]>', description: 'resolver for names outside the domain' },
    domain: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', default: 'driftgate', arg: '<domain>', description: 'DNS zone: <service>.service.<domain>' },
    dnsForwardAllow: {
      type: 'array', items: { type: 'string', pattern: '^(loopback|pools|[0-9.]+(/[0-9]{1,2})?)$' }, default: ['loopback', 'pools'], arg: '<cidr|loopback|pools>',
      description: 'clients whose names outside the domain are forwarded: IPv4 CIDRs, "loopback" (127.0.0.0/8) and "pools" (every IPAM pool subnet); others get REFUSED',
    },
    dnsRateLimit: { type: 'integer', minimum: 0, maximum: 10000000, default: 1000, description: 'DNS responses per second per client address (0 = no limit); over it queries are dropped and counted' },
    dnsRateBurst: { type: 'integer', minimum: 1, maximum: 10000000, default: 2000, description: 'DNS responses a client may get at once after being idle (token bucket size)' },
    httpMaxBlocking: { type: 'integer', minimum: 1, maximum: 10000000, default: 8192, description: 'blocking queries (?index=) parked at once on this instance; more get 429' },
    httpMaxBlockingPerClient: { type: 'integer', minimum: 1, maximum: 10000000, default: 256, description: 'blocking queries parked at once per client address; more get 429' },
    ipamQuarantine: duration('60s', 'a released address waits this long before reuse'),
    placement: { type: 'boolean', default: true, description: 'do not run the placement leader loop in this instance' },
    logsMaxAge: duration('24h', 'service logs (stream DRIFTGATE_LOGS) are kept this long, oldest dropped first', { arg: '<duration>' }),
    logsMaxBytes: { type: 'integer', minimum: 1048576, default: 1073741824, arg: '<bytes>', description: 'service logs are kept up to this many bytes, oldest dropped first' },
    ...commonRoleProperties,
    // Tuning knobs, config file / env only: the defaults suit production.
    dnsUdpMax: { type: 'integer', minimum: 512, maximum: 4096, default: 1232, cli: false, description: 'largest UDP DNS reply in bytes, whatever EDNS size a client asks for (512 without EDNS; TC set when cut)' },
    dnsTcpMaxConnections: { type: 'integer', minimum: 1, maximum: 1000000, default: 512, cli: false, description: 'DNS over TCP connections at once' },
    dnsTcpIdle: duration('10s', 'a DNS TCP client idle, or not reading its replies, this long is dropped', { cli: false }),
    httpRequestTimeout: duration('30s', 'time for a client to send a whole HTTP request (headers and body); slower ones get 408 (blocking queries are not affected)', { cli: false }),
    heartbeatInterval: duration('2s', 'agents\' heartbeat interval; a host is suspect after 3 missed', { cli: false }),
    ipamReserveGrace: duration('120s', 'a reserved address never bound is released after this long', { cli: false }),
    ipamDownGrace: duration('15m', 'a down host keeps its addresses this long', { cli: false }),
    placementLease: duration('10s', 'the placement leader\'s lease', { cli: false }),
    ackWait: duration('30s', 'JetStream ack wait of the ingest consumer', { cli: false }),
    maxAckPending: { type: 'integer', minimum: 1, maximum: 100000, default: 4000, cli: false, description: 'messages in flight on the ingest consumer' },
    tombstoneTtl: duration('10m', 'removed endpoints are forgotten after this long', { cli: false }),
    sweepInterval: duration('1s', 'host liveness sweep interval', { cli: false }),
    name: { type: 'string', minLength: 1, maxLength: 64, cli: false, description: 'this instance\'s name in logs and its NATS connection' },
    // Autoscaling (issue 19).
    autoscaleInterval: duration('15s', 'the placement leader evaluates every autoscaled service this often', { cli: false }),
    // Service load stats (registry/stats).
    statsWindow: duration('10s', 'requests/errors per second are computed over renderers\' reports of this long', { cli: false }),
    // Sites (issue 21, src/registry/sites): other sites mirrored read-only over the leaf-node link.
    remoteSite: { type: 'array', items: { type: 'string', pattern: SITE_PATTERN, maxLength: 63 }, maxItems: 16, uniqueItems: true, default: [], arg: '<site>', description: 'another site whose endpoints and hosts this site mirrors read-only (its NATS joined to this one by a leaf node; the site name is its JetStream domain)' },
    siteStaleAfter: duration('3s', 'a link to another site is down (its entries stale) when its mirrors heard nothing for this long', { cli: false }),
    // Standby (issue 21, src/registry/sites/standby*.ts): this site takes over another site's services that name it.
    standbyGrace: duration('60s', 'another site is lost (its standby services taken over here) when no summary of it arrived for this long, or most of its hosts were not up for this long (judged by this site\'s clock only)'),
    standbyHold: duration('30s', 'a service taken over goes back to its standby count once the other site has served it again for this long'),
    standbyCooldown: duration('5m', 'after a scale-back, no new takeover of that service for this long (a flapping link cannot cause a storm)'),
    ...heapGrowingProperty, // set in the process by `driftgate registry` at start (src/cli/v8-heap.ts)
  },
}

export interface RegistryConfig extends CommonRoleConfig {
  replicas: number
  hostGrace: string
  heartbeatInterval: string
  httpPort: number
  dnsPort: number
  apiToken?: string
  apiTokenFile?: string
  apiReadToken?: string
  httpHost: string
  dnsHost: string
  dnsTtl: number
  dnsForward: string[]
  dnsForwardAllow: string[]
  dnsUdpMax: number
  dnsRateLimit: number
  dnsRateBurst: number
  dnsTcpMaxConnections: number
  dnsTcpIdle: string
  httpRequestTimeout: string
  httpMaxBlocking: number
  httpMaxBlockingPerClient: number
  ipamQuarantine: string
  ipamReserveGrace: string
  ipamDownGrace: string
  /** Run the placement leader loop (one leader among the registry instances). */
  placement: boolean
  placementLease: string
  /** DRIFTGATE_LOGS limits, applied when the registry starts. */
  logsMaxAge: string
  logsMaxBytes: number
  domain: string
  ackWait: string
  maxAckPending: number
  tombstoneTtl: string
  sweepInterval: string
  /** This instance's name in logs and the NATS connection name. */
  name?: string
  autoscaleInterval: string
  statsWindow: string
  /** Other sites mirrored read-only (issue 21). */
  remoteSite: string[]
  siteStaleAfter: string
  standbyGrace: string
  standbyHold: string
  standbyCooldown: string
  /** V8 old-generation growth in percent (src/cli/v8-heap.ts); 0 = V8's own. */
  heapGrowingPercent: number
}

/** Durations in milliseconds, derived once. */
export interface RegistryTimings {
  hostGraceMs: number
  heartbeatMs: number
  /** A host is suspect after 3 missed heartbeats. */
  suspectMs: number
  ackWaitMs: number
  tombstoneTtlMs: number
  sweepMs: number
  ipamQuarantineMs: number
  ipamReserveGraceMs: number
  ipamDownGraceMs: number
  placementLeaseMs: number
  dnsTcpIdleMs: number
  httpRequestTimeoutMs: number
  autoscaleIntervalMs: number
  statsWindowMs: number
  siteStaleAfterMs: number
  standbyGraceMs: number
  standbyHoldMs: number
  standbyCooldownMs: number
}

export function timings (cfg: RegistryConfig): RegistryTimings {
  const heartbeatMs = parseDuration(cfg.heartbeatInterval)
  return {
    hostGraceMs: parseDuration(cfg.hostGrace),
    heartbeatMs,
    suspectMs: 3 * heartbeatMs,
    ackWaitMs: parseDuration(cfg.ackWait),
    tombstoneTtlMs: parseDuration(cfg.tombstoneTtl),
    sweepMs: parseDuration(cfg.sweepInterval),
    ipamQuarantineMs: parseDuration(cfg.ipamQuarantine),
    ipamReserveGraceMs: parseDuration(cfg.ipamReserveGrace),
    ipamDownGraceMs: parseDuration(cfg.ipamDownGrace),
    placementLeaseMs: parseDuration(cfg.placementLease),
    dnsTcpIdleMs: parseDuration(cfg.dnsTcpIdle),
    httpRequestTimeoutMs: parseDuration(cfg.httpRequestTimeout),
    autoscaleIntervalMs: parseDuration(cfg.autoscaleInterval),
    statsWindowMs: parseDuration(cfg.statsWindow),
    siteStaleAfterMs: parseDuration(cfg.siteStaleAfter),
    standbyGraceMs: parseDuration(cfg.standbyGrace),
    standbyHoldMs: parseDuration(cfg.standbyHold),
    standbyCooldownMs: parseDuration(cfg.standbyCooldown),
  }
}

export interface ResolvedRegistryConfig extends RegistryConfig {
  /** Durations in milliseconds, derived once. */
  ms: RegistryTimings
}

/**
 * The registry's whole configuration, resolved once: flags > env > YAML file
 * > schema defaults, validated (tokens included) before anything connects,
 * then frozen. Tests and `driftgate up` pass plain values as `flags`.
 */
export function resolveRegistryConfig (flags: Partial<RegistryConfig> = {}, env: NodeJS.ProcessEnv = {}, file?: string): Readonly<ResolvedRegistryConfig> {
  const cfg = loadConfig<RegistryConfig>({ role: 'registry', schema: registrySchema, flags: flags as Record<string, unknown>, env, file })
  if (cfg.remoteSite.includes(cfg.site)) throw new ConfigError('registry', [{ field: 'remoteSite', message: `"${cfg.site}" is this site (--site); list the other sites only` }])
  createAuth(cfg) // token rules (length, readable token file) fail here, not after ingest has started
  return Object.freeze({ ...cfg, ms: timings(cfg) })
}
