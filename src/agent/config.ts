// The agent's configuration: one JSON schema (defaults, help texts and env
// names live only there; the command line is generated from it) and one
// resolveAgentConfig that validates everything before anything connects.
import {
  ConfigError, DNS_LABEL_PATTERN, DURATION_PATTERN, loadConfig, parseDuration,
  commonRoleProperties, isIPv4, type CommonRoleConfig, type RoleSchema, type SchemaProp,
} from '../core/index.js'
import { parseShimAddresses } from './shim/address.js'

// Docker looks the driver up as /run/docker/plugins/<name>.sock.
const DRIVER_NAME = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$'
const UPSTREAM = '^[0-9.]{7,15}(:[0-9]{1,5})?$'
const DOMAIN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$'
// string first: an environment variable arrives as text ("5s"); code may give a number of ms.
const duration = (def: string, description: string): SchemaProp =>
  ({ type: ['string', 'integer'], minimum: 1, pattern: DURATION_PATTERN, default: def, arg: '<duration>', description })

export const agentSchema: RoleSchema = {
  type: 'object',
  required: ['hostId'],
  properties: {
    hostId: { type: 'string', pattern: DNS_LABEL_PATTERN, arg: '<id>', description: 'this host\'s id, a DNS label (required)' },
    docker: { type: 'string', minLength: 1, default: '/var/run/docker.sock', arg: '<socket|url>', description: 'Docker socket path, unix://, tcp:// or http:// URL' },
    network: { type: 'string', pattern: DRIVER_NAME, arg: '<name>', description: 'MacVLAN network whose IP to publish when a container has no driftgate.network label' },
    hostLabel: { type: 'array', items: { type: 'string', pattern: '^[a-zA-Z0-9._/-]{1,128}=.{0,256}$' }, maxItems: 64, default: [], arg: '<k=v>', description: 'label of this host for placement' },
    hostAddress: { type: 'string', format: 'ipv4', arg: '<ip>', description: 'this host\'s address, announced in heartbeats' },
    resyncInterval: duration('30s', 'full snapshot every'),
    heartbeatInterval: duration('2s', 'heartbeat every'),
    watchdog: duration('30s', 'ping Docker after this long without events'),
    ipamDriverName: { type: 'string', pattern: DRIVER_NAME, default: 'driftgate', arg: '<name>', description: 'serve the Docker IPAM driver as <ipam-socket-dir>/<name>.sock' },
    ipamSocketDir: { type: 'string', minLength: 1, default: '/run/docker/plugins', arg: '<dir>', description: 'folder dockerd reads plugin sockets from (the socket is mode 0660)' },
    ipamDriver: { type: 'boolean', default: true, description: 'do not serve the Docker IPAM driver' },
    reconcile: { type: 'boolean', default: true, description: 'do not run the replicas placement assigns to this host' },
    logs: { type: 'boolean', default: true, description: 'do not ship the output of driftgate containers to the DRIFTGATE_LOGS stream' },
    // MacVLAN shim and container DNS (issue 19; docs/architecture.md "MacVLAN shim and container DNS").
    shim: { type: 'boolean', default: true, description: 'do not create the MacVLAN shim interfaces (the host reaching its own containers; needs CAP_NET_ADMIN)' },
    shimAddress: { type: 'array', items: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}=[0-9.]{7,15}$' }, maxItems: 64, default: [], arg: '<network>=<ip>', description: 'shim address on a MacVLAN network whose IPAM driver is not driftgate\'s (outside its container range)' },
    dnsUpstream: { type: 'array', items: { type: 'string', pattern: UPSTREAM }, maxItems: 8, default: [], arg: '<ip[:port]>', description: 'the registry\'s DNS: replicas resolve <service>.service.<domain> through a stub on the shim address (off when not given)' },
    dnsForward: { type: 'array', items: { type: 'string', pattern: UPSTREAM }, maxItems: 8, default: [], arg: '<ip[:port]>', description: 'resolver for the containers\' other names (default: the nameservers of /etc/resolv.conf)' },
    dnsDomain: { type: 'string', pattern: DOMAIN, default: 'driftgate', arg: '<domain>', description: 'the registry\'s DNS zone (its --domain)' },
    ...commonRoleProperties,
    // Log budgets, config file / env only: the defaults suit production.
    logsBufferBytes: { type: 'integer', minimum: 4096, maximum: 4294967296, default: 67108864, cli: false, description: 'memory for log batches waiting while NATS is away (all containers); beyond it lines are dropped and counted' },
    logsRateLimit: { type: 'integer', minimum: 1, maximum: 10000000, default: 10000, cli: false, description: 'log lines per second per container (bursts of twice that); beyond it lines are dropped and counted' },
    // Autoscaling (issue 19): CPU use of managed containers for the registry's autoscaler.
    stats: { type: 'boolean', default: true, description: 'do not report the CPU use of managed containers (the autoscaler\'s cpu target needs it)' },
    statsInterval: duration('10s', 'report the CPU use of managed containers every'),
  },
}

/** The agent's options as the schema has them (flags, env, YAML, or code). */
export interface AgentConfig extends CommonRoleConfig {
  hostId: string
  docker: string
  network?: string
  hostLabel: readonly string[]
  hostAddress?: string
  resyncInterval: string | number
  heartbeatInterval: string | number
  watchdog: string | number
  ipamDriverName: string
  ipamSocketDir: string
  ipamDriver: boolean
  reconcile: boolean
  logs: boolean
  logsBufferBytes: number
  logsRateLimit: number
  shim: boolean
  shimAddress: readonly string[]
  dnsUpstream: readonly string[]
  dnsForward: readonly string[]
  dnsDomain: string
  stats: boolean
  statsInterval: string | number
}

/** What createAgent runs with: the validated options and what is derived from them once. */
export interface ResolvedAgentConfig extends Omit<AgentConfig, 'ipamDriverName'> {
  hostLabels: Record<string, string>
  resyncMs: number
  heartbeatMs: number
  watchdogMs: number
  statsMs: number
  /** Set when the IPAM driver runs (`ipamDriver` true). */
  ipamDriverName?: string
}

function checkUpstream (s: string): void {
  const [ip, port] = s.split(':')
  if (!isIPv4(ip) || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    throw new ConfigError('agent', [{ field: 'dnsUpstream', message: `${JSON.stringify(s)} is not an IPv4 resolver address (ip or ip:port)` }])
  }
}

export function parseHostLabels (value: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of value) {
    const i = kv.indexOf('=')
    if (i < 1) throw new ConfigError('agent', [{ field: 'hostLabel', message: `${JSON.stringify(kv)} is not k=v` }])
    out[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return out
}

/**
 * flags > DRIFTGATE_* env > YAML file > schema defaults, validated whole and
 * frozen. Code that embeds an agent passes its values as `flags`.
 */
export function resolveAgentConfig (flags: Partial<AgentConfig> = {}, env: NodeJS.ProcessEnv = {}, file?: string): Readonly<ResolvedAgentConfig> {
  const c = loadConfig<AgentConfig>({ role: 'agent', schema: agentSchema, flags: flags as Record<string, unknown>, env, file })
  dockerOptions(c.docker) // an unusable Docker address fails here, before anything connects
  parseShimAddresses(c.shimAddress)
  for (const u of [...c.dnsUpstream, ...c.dnsForward]) checkUpstream(u)
  return Object.freeze({
    ...c,
    hostLabels: parseHostLabels(c.hostLabel),
    resyncMs: parseDuration(c.resyncInterval),
    heartbeatMs: parseDuration(c.heartbeatInterval),
    watchdogMs: parseDuration(c.watchdog),
    statsMs: parseDuration(c.statsInterval),
    ipamDriverName: c.ipamDriver ? c.ipamDriverName : undefined,
  })
}

/** dockerode options from --docker. */
export function dockerOptions (docker: string): { socketPath: string } | { host: string, port: number, protocol: 'http' } {
  if (docker.startsWith('unix://')) return { socketPath: docker.slice('unix://'.length) }
  const m = /^(?:tcp|http):\/\/([^:/]+):(\d+)\/?$/.exec(docker)
  if (m != null) return { host: m[1], port: Number(m[2]), protocol: 'http' }
  if (docker.startsWith('/')) return { socketPath: docker }
  throw new ConfigError('agent', [{ field: 'docker', message: `${JSON.stringify(docker)} is not a socket path, unix://, tcp:// or http:// URL` }])
}
