// The registry's configuration: its JSON schema (flags > env > YAML, see
// core/config.ts) and the durations resolved once into milliseconds.
import { loadConfig, parseDuration, DURATION_PATTERN, type RoleSchema, commonRoleProperties, type CommonRoleConfig } from '../core/index.js'

const duration = (def: string): Record<string, unknown> => ({ type: 'string', pattern: DURATION_PATTERN, default: def })

export const registrySchema: RoleSchema = {
  type: 'object',
  properties: {
    ...commonRoleProperties,
    replicas: { type: 'integer', minimum: 1, maximum: 5, default: 1 },
    hostGrace: duration('30s'),
    heartbeatInterval: duration('2s'),
    httpPort: { type: 'integer', minimum: 0, maximum: 65535, default: 7070 },
    dnsPort: { type: 'integer', minimum: 0, maximum: 65535, default: 8600 },
    apiToken: { type: 'string', minLength: 1 },
    apiTokenFile: { type: 'string', minLength: 1 },
    apiReadToken: { type: 'string', minLength: 1 },
    httpHost: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'HTTP API listen address; loopback by default, set 0.0.0.0 (with --api-read-token) to serve other machines' },
    dnsHost: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'DNS listen address (UDP and TCP); loopback by default, e.g. the MacVLAN gateway address to serve containers' },
    dnsTtl: { type: 'integer', minimum: 0, maximum: 86400, default: 0 },
    dnsForward: { type: 'array', items: { type: 'string', pattern: '^[0-9.]+(:[0-9]+)?$' }, default: [] },
    dnsForwardAllow: {
      type: 'array', items: { type: 'string', pattern: '^(loopback|pools|[0-9.]+(/[0-9]{1,2})?)$' }, default: ['loopback', 'pools'],
      description: 'clients whose names outside the domain are forwarded: IPv4 CIDRs, "loopback" (127.0.0.0/8) and "pools" (every IPAM pool subnet); others get REFUSED',
    },
    dnsUdpMax: { type: 'integer', minimum: 512, maximum: 4096, default: 1232, description: 'largest UDP DNS reply in bytes, whatever EDNS size a client asks for (512 without EDNS; TC set when cut)' },
    dnsRateLimit: { type: 'integer', minimum: 0, maximum: 10000000, default: 1000, description: 'DNS responses per second per client address (0 = no limit); over it queries are dropped and counted' },
    dnsRateBurst: { type: 'integer', minimum: 1, maximum: 10000000, default: 2000, description: 'DNS responses a client may get at once after being idle (token bucket size)' },
    dnsTcpMaxConnections: { type: 'integer', minimum: 1, maximum: 1000000, default: 512, description: 'DNS over TCP connections at once' },
    dnsTcpIdle: { ...duration('10s'), description: 'a DNS TCP client idle, or not reading its replies, this long is dropped' },
    httpRequestTimeout: { ...duration('30s'), description: 'time for a client to send a whole HTTP request (headers and body); slower ones get 408 (blocking queries are not affected)' },
    httpMaxBlocking: { type: 'integer', minimum: 1, maximum: 10000000, default: 8192, description: 'blocking queries (?index=) parked at once on this instance; more get 429' },
    httpMaxBlockingPerClient: { type: 'integer', minimum: 1, maximum: 10000000, default: 256, description: 'blocking queries parked at once per client address; more get 429' },
    ipamQuarantine: duration('60s'),
    ipamReserveGrace: duration('120s'),
    ipamDownGrace: duration('15m'),
    placement: { type: 'boolean', default: true },
    placementLease: duration('10s'),
    domain: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', default: 'driftgate' },
    // Tuning knobs, config file / env only: the defaults suit production.
    ackWait: duration('30s'),
    maxAckPending: { type: 'integer', minimum: 1, maximum: 100000, default: 4000 },
    tombstoneTtl: duration('10m'),
    sweepInterval: duration('1s'),
    name: { type: 'string', minLength: 1, maxLength: 64 },
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
  domain: string
  ackWait: string
  maxAckPending: number
  tombstoneTtl: string
  sweepInterval: string
  /** This instance's name in logs and the NATS connection name. */
  name?: string
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
  }
}

/**
 * Validated config with defaults from plain values (tests, embedding). The
 * CLI goes through the same loadConfig with flags, env and file.
 */
export function registryConfig (values: Partial<RegistryConfig> = {}, env: NodeJS.ProcessEnv = {}): Readonly<RegistryConfig> {
  return loadConfig<RegistryConfig>({ role: 'registry', schema: registrySchema, flags: values as Record<string, unknown>, env })
}
