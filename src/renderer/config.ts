// The renderer's configuration: JSON schema (for loadConfig) and the
// resolved form the component uses.
import { hostname } from 'node:os'
import { DNS_LABEL_PATTERN, DURATION_PATTERN, loadConfig, parseDuration, type RoleSchema, type SchemaProp, commonRoleProperties, type CommonRoleConfig } from '../core/index.js'

// string first: an environment variable arrives as text ("50ms"); a YAML file may give a number of ms.
const duration = (def: string, description: string): SchemaProp =>
  ({ type: ['string', 'integer'], minimum: 0, pattern: DURATION_PATTERN, default: def, arg: '<duration>', description })

export const rendererSchema: RoleSchema = {
  type: 'object',
  required: ['out', 'nginxConf'],
  properties: {
    out: { type: 'string', minLength: 1, arg: '<dir>', description: 'folder of generated *.conf files (include <dir>/*.conf inside http {}) (required)' },
    nginxConf: { type: 'string', minLength: 1, arg: '<file>', description: 'main nginx.conf, tested with nginx -t -c (required)' },
    templates: { type: 'string', minLength: 1, arg: '<dir>', description: 'your nunjucks templates (upstream.conf.njk, driftgate.conf.njk); missing ones come from the bundled set' },
    nginxBin: { type: 'string', minLength: 1, default: 'nginx', arg: '<path>', description: 'nginx binary' },
    nginxPrefix: { type: 'string', minLength: 1, arg: '<dir>', description: 'nginx -p prefix, for a main config with relative paths' },
    nginxPid: { type: 'string', minLength: 1, arg: '<file>', description: 'nginx master pid file (default: the pid directive of --nginx-conf)' },
    id: { type: 'string', pattern: DNS_LABEL_PATTERN, arg: '<name>', description: 'renderer id in driftgate.applied.<id> (DNS label; default: the host name)' },
    minWait: duration('50ms', 'quiet time that ends a burst of changes (file mode; lua mode pushes at once and batches what arrives during a push)'),
    maxWait: duration('1s', 'longest a change waits during a burst'),
    statusPort: { type: 'integer', minimum: 1, maximum: 65535, default: 8597, description: 'loopback port of the generated status and 503 listeners' },
    reloadTimeout: duration('10s', 'how long a reload may take to show the new generation'),
    announceInterval: { ...duration('5s', 'the applied generation is announced at least this often'), cli: false },
    ...commonRoleProperties,
    mode: {
      type: 'string',
      enum: ['auto', 'lua', 'file'],
      default: 'auto',
      arg: '<mode>',
      description: 'how endpoint changes reach nginx: lua (pushed into a lua_shared_dict, balancer_by_lua picks the peer, no reload), ' +
        'file (written into upstream files, one reload per change), auto (lua when the main nginx config loads ngx_http_lua_module, else file)',
    },
    // Service load stats (lua mode only: file mode has no counters).
    statsInterval: duration('2s', 'lua mode: publish per-service request/error counters on <prefix>.stats.renderer.<id> this often (0s = off)'),
  },
}

/** How endpoint changes reach nginx. */
export type RendererMode = 'auto' | 'lua' | 'file'

export interface RendererFileConfig extends CommonRoleConfig {
  out: string
  nginxConf: string
  /** User template folder, searched before the bundled one. */
  templates?: string
  nginxBin: string
  nginxPrefix?: string
  nginxPid?: string
  id: string
  minWait: string | number
  maxWait: string | number
  statusPort: number
  reloadTimeout: string | number
  announceInterval: string | number
  mode: RendererMode
  statsInterval: string | number
}

/** What createRenderer needs: the file config's paths and ids as they are, durations in ms. */
export interface RendererConfig extends Pick<RendererFileConfig,
'id' | 'prefix' | 'out' | 'nginxConf' | 'templates' | 'nginxBin' | 'nginxPrefix' | 'nginxPid' | 'statusPort'> {
  /** Absent: auto (programmatic callers; the CLI always passes the schema's default). */
  mode?: RendererMode
  minWaitMs: number
  maxWaitMs: number
  reloadTimeoutMs: number
  announceIntervalMs: number
  /** Lua mode's stats reports (0 = off). Absent: the schema default (programmatic callers). */
  statsIntervalMs?: number
}

/** The schema's default stats interval in ms (for a RendererConfig without statsIntervalMs). */
export const DEFAULT_STATS_INTERVAL_MS = parseDuration(String(rendererSchema.properties.statsInterval.default))

/**
 * flags > DRIFTGATE_* env > YAML file > schema defaults, validated whole,
 * then resolved into what createRenderer runs with. `id` defaults to the
 * machine's name, the one default that is not a constant.
 */
export function loadRendererConfig (flags: Partial<RendererFileConfig> = {}, env: NodeJS.ProcessEnv = {}, file?: string): Readonly<RendererFileConfig> {
  // The machine-name default applies last: a flag, DRIFTGATE_ID or the file's `id` wins.
  const c = loadConfig<RendererFileConfig>({ role: 'renderer', schema: rendererSchema, flags: flags as Record<string, unknown>, env, file })
  return c.id !== undefined ? c : Object.freeze({ ...c, id: defaultRendererId() })
}

export function resolveRendererConfig (c: RendererFileConfig): RendererConfig {
  return {
    id: c.id,
    prefix: c.prefix,
    out: c.out,
    nginxConf: c.nginxConf,
    templates: c.templates,
    nginxBin: c.nginxBin,
    nginxPrefix: c.nginxPrefix,
    nginxPid: c.nginxPid,
    statusPort: c.statusPort,
    mode: c.mode,
    minWaitMs: parseDuration(c.minWait),
    maxWaitMs: parseDuration(c.maxWait),
    reloadTimeoutMs: parseDuration(c.reloadTimeout),
    announceIntervalMs: parseDuration(c.announceInterval),
    statsIntervalMs: parseDuration(c.statsInterval),
  }
}

/** A default renderer id from the machine name, made into a DNS label. */
export function defaultRendererId (name = hostname()): string {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '')
  return label === '' ? 'renderer' : label
}
