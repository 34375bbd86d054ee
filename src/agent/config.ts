// The agent's configuration: JSON schema (for loadConfig), type, and the
// normalisation createAgent applies so tests and `driftgate up` can pass
// numbers and maps where the command line has strings.
import { ConfigError, DURATION_PATTERN, isDnsLabel, isIPv4, parseDuration, type RoleSchema, commonRoleProperties, type CommonRoleConfig } from '../core/index.js'

// Docker looks the driver up as /run/docker/plugins/<name>.sock.
const DRIVER_NAME = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$'
const DEFAULT_SOCKET_DIR = '/run/docker/plugins'

export const agentSchema: RoleSchema = {
  type: 'object',
  required: ['hostId'],
  properties: {
    ...commonRoleProperties,
    hostId: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
    docker: { type: 'string', minLength: 1, default: '/var/run/docker.sock' },
    network: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$' },
    hostLabel: { type: 'array', items: { type: 'string' }, maxItems: 64, default: [] },
    hostAddress: { type: 'string', format: 'ipv4' },
    resyncInterval: { type: 'string', pattern: DURATION_PATTERN, default: '30s' },
    heartbeatInterval: { type: 'string', pattern: DURATION_PATTERN, default: '2s' },
    watchdog: { type: 'string', pattern: DURATION_PATTERN, default: '30s' },
    reconcile: { type: 'boolean', default: true },
    ipamDriver: { type: 'boolean', default: true },
    ipamDriverName: { type: 'string', pattern: DRIVER_NAME, default: 'driftgate' },
    ipamSocketDir: { type: 'string', minLength: 1, default: DEFAULT_SOCKET_DIR },
  },
}

export interface AgentConfig extends Partial<CommonRoleConfig> {
  hostId: string
  /** Unix socket path, unix://path, tcp://host:port or http://host:port. */
  docker?: string
  network?: string
  /** `k=v` strings (command line) or a map. */
  hostLabel?: readonly string[] | Record<string, string>
  hostAddress?: string
  /** Durations: "30s" or milliseconds. */
  resyncInterval?: string | number
  heartbeatInterval?: string | number
  watchdog?: string | number
  /** Run the replicas placement assigns to this host (default true). */
  reconcile?: boolean
  /** false: no IPAM driver even when ipamDriverName is set (`--no-ipam-driver`). */
  ipamDriver?: boolean
  /**
   * Serve the Docker IPAM driver under this name. Unset (createAgent's
   * default; the CLI's is `driftgate`): no driver, so tests can run several
   * agents in one process.
   */
  ipamDriverName?: string
  /** Folder of the driver's socket (default /run/docker/plugins). */
  ipamSocketDir?: string
}

export interface AgentSettings {
  hostId: string
  prefix: string
  network?: string
  hostLabels: Record<string, string>
  hostAddress?: string
  resyncMs: number
  heartbeatMs: number
  watchdogMs: number
  reconcile: boolean
  /** Set when the IPAM driver runs. */
  ipamDriverName?: string
  ipamSocketDir: string
}

const HOST_LABEL = /^[a-zA-Z0-9._/-]{1,128}=.{0,256}$/

export function parseHostLabels (value: AgentConfig['hostLabel']): Record<string, string> {
  if (value == null) return {}
  if (!Array.isArray(value)) return { ...(value as Record<string, string>) }
  const out: Record<string, string> = {}
  for (const kv of value as string[]) {
    const i = kv.indexOf('=')
    if (!HOST_LABEL.test(kv)) throw new ConfigError('agent', [{ field: 'hostLabel', message: `${JSON.stringify(kv)} is not k=v (key: letters, digits, . _ / -; value up to 256 chars)` }])
    out[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return out
}

/** Checks what createAgent gets directly (the CLI path is already schema-validated). */
export function agentSettings (cfg: AgentConfig): AgentSettings {
  const problems: Array<{ field: string, message: string }> = []
  if (!isDnsLabel(cfg.hostId)) problems.push({ field: 'hostId', message: 'must be a DNS label' })
  if (cfg.hostAddress !== undefined && !isIPv4(cfg.hostAddress)) problems.push({ field: 'hostAddress', message: 'must be an IPv4 address' })
  const dur = (field: string, v: string | number | undefined, dflt: number): number => {
    if (v === undefined) return dflt
    try {
      const ms = parseDuration(v)
      if (ms > 0) return ms
    } catch { /* reported below */ }
    problems.push({ field, message: `invalid duration ${JSON.stringify(v)}` })
    return dflt
  }
  const settings: AgentSettings = {
    hostId: cfg.hostId,
    prefix: cfg.prefix ?? 'driftgate',
    network: cfg.network,
    hostLabels: parseHostLabels(cfg.hostLabel),
    hostAddress: cfg.hostAddress,
    resyncMs: dur('resyncInterval', cfg.resyncInterval, 30_000),
    heartbeatMs: dur('heartbeatInterval', cfg.heartbeatInterval, 2000),
    watchdogMs: dur('watchdog', cfg.watchdog, 30_000),
    reconcile: cfg.reconcile !== false,
    ipamDriverName: cfg.ipamDriver === false ? undefined : cfg.ipamDriverName,
    ipamSocketDir: cfg.ipamSocketDir ?? DEFAULT_SOCKET_DIR,
  }
  if (cfg.ipamDriverName !== undefined && !new RegExp(DRIVER_NAME).test(cfg.ipamDriverName)) {
    problems.push({ field: 'ipamDriverName', message: 'letters, digits, _ . - (a socket file name), up to 128 characters' })
  }
  if (problems.length > 0) throw new ConfigError('agent', problems)
  return settings
}

/** dockerode options from --docker. */
export function dockerOptions (docker: string | undefined): { socketPath: string } | { host: string, port: number, protocol: 'http' } {
  const d = docker ?? '/var/run/docker.sock'
  if (d.startsWith('unix://')) return { socketPath: d.slice('unix://'.length) }
  const m = /^(?:tcp|http):\/\/([^:/]+):(\d+)\/?$/.exec(d)
  if (m != null) return { host: m[1], port: Number(m[2]), protocol: 'http' }
  if (d.startsWith('/')) return { socketPath: d }
  throw new ConfigError('agent', [{ field: 'docker', message: `${JSON.stringify(d)} is not a socket path, unix://, tcp:// or http:// URL` }])
}
