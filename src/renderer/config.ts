// The renderer's configuration: JSON schema (for loadConfig) and the
// resolved form the component uses.
import { hostname } from 'node:os'
import { shellWords } from './shell-words.js'
import { ConfigError, DNS_LABEL_PATTERN, DURATION_PATTERN, loadConfig, parseDuration, type RoleSchema, type SchemaProp, commonRoleProperties, heapGrowingProperty, type CommonRoleConfig } from '../core/index.js'

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
    // edge routes (issue 16)
    httpListen: { type: 'string', pattern: '^(?:(?:\\d{1,3}\\.){3}\\d{1,3}:)?\\d{1,5}$', default: '80', arg: '<[addr:]port>', description: 'nginx listen of the generated per-host server blocks (the port of the main config\'s default server)' },
    // no default: unset means "auto" (on only for an install whose --out already holds host-prefix entries)
    hostPrefix: { type: 'boolean', description: 'also route Host <service> and <service>.<anything> to that service (unset: off for a new install, kept on where an older renderer wrote such entries; set false to turn it off)' },
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
    // --- TLS and consul-template habits (issue 16) ---
    certs: { type: 'string', minLength: 1, arg: '<dir>', description: 'folder of TLS certificates, watched: certbot\'s live/<name>/{fullchain,privkey}.pem or <name>.crt + <name>.key; a host is served over HTTPS when a valid certificate names it' },
    httpsListen: { type: 'string', pattern: '^[A-Za-z0-9.:-]{1,64}$', default: '443', arg: '<addr>', description: 'listen address of the HTTPS server blocks ([address:]port)' },
    certsDebounce: { ...duration('500ms', 'quiet time in --certs before a change is read (certbot writes several files)'), cli: false },
    once: { type: 'boolean', default: false, description: 'render, validate, apply once and exit: 0 when applied, 1 with the reason' },
    dryRun: { type: 'boolean', default: false, description: 'print the diff of what would change in --out and exit; writes nothing, validates nothing with nginx, reloads nothing' },
    reloadCmd: { type: 'string', minLength: 1, arg: '<command>', description: 'reload nginx with this command instead of SIGHUP to its master (split into words like a shell, run without one); still confirmed through the status listener' },
    ...heapGrowingProperty, // set in the process by `driftgate renderer` at start (src/cli/v8-heap.ts)
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
  certs?: string
  httpsListen: string
  certsDebounce: string | number
  once: boolean
  dryRun: boolean
  reloadCmd?: string
  httpListen: string
  hostPrefix?: boolean
  /** V8 old-generation growth in percent (src/cli/v8-heap.ts); 0 = V8's own. */
  heapGrowingPercent: number
}

/** What createRenderer needs: the file config's paths and ids as they are, durations in ms. */
export interface RendererConfig extends Pick<RendererFileConfig,
'id' | 'prefix' | 'out' | 'nginxConf' | 'templates' | 'nginxBin' | 'nginxPrefix' | 'nginxPid' | 'statusPort' | 'certs'> {
  /** Absent: auto (programmatic callers; the CLI always passes the schema's default). */
  mode?: RendererMode
  /**
   * Edge routes: listen of the per-host servers (absent: 80) and the
   * host-prefix convenience. Absent here means ON (embedders and tests keep
   * the pre-routes behaviour); the CLI resolves an unset option to 'auto', so
   * a new install routes only what routes claim.
   */
  httpListen?: string
  /** 'auto': on only when --out already holds host-prefix entries from an older renderer (an existing install). */
  hostPrefix?: boolean | 'auto'
  minWaitMs: number
  maxWaitMs: number
  reloadTimeoutMs: number
  announceIntervalMs: number
  /** Lua mode's stats reports (0 = off). Absent: the schema default (programmatic callers). */
  statsIntervalMs?: number
  /** Absent: '443'. */
  httpsListen?: string
  /** Absent: 500. */
  certsDebounceMs?: number
  /** The reload command's argv (absent: SIGHUP to the master). */
  reloadCmd?: string[]
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
    httpListen: c.httpListen,
    hostPrefix: c.hostPrefix ?? 'auto',
    minWaitMs: parseDuration(c.minWait),
    maxWaitMs: parseDuration(c.maxWait),
    reloadTimeoutMs: parseDuration(c.reloadTimeout),
    announceIntervalMs: parseDuration(c.announceInterval),
    statsIntervalMs: parseDuration(c.statsInterval),
    certs: c.certs,
    httpsListen: c.httpsListen,
    certsDebounceMs: parseDuration(c.certsDebounce),
    reloadCmd: c.reloadCmd != null ? reloadArgv(c.reloadCmd) : undefined,
  }
}

function reloadArgv (line: string): string[] {
  let argv: string[]
  try { argv = shellWords(line) } catch (err) {
    throw new ConfigError('renderer', [{ field: '/reloadCmd', message: (err as Error).message }])
  }
  if (argv.length === 0) throw new ConfigError('renderer', [{ field: '/reloadCmd', message: 'names no command' }])
  return argv
}

/** A default renderer id from the machine name, made into a DNS label. */
export function defaultRendererId (name = hostname()): string {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '')
  return label === '' ? 'renderer' : label
}
