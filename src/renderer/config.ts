// The renderer's configuration: JSON schema (for loadConfig) and the
// resolved form the component uses.
import { hostname } from 'node:os'
import { DNS_LABEL_PATTERN, DURATION_PATTERN, parseDuration, type RoleSchema, commonRoleProperties, type CommonRoleConfig } from '../core/index.js'

// string first: an environment variable arrives as text ("50ms"); a YAML file may give a number of ms.
const duration: { type: string[], minimum: number, pattern: string } = { type: ['string', 'integer'], minimum: 0, pattern: DURATION_PATTERN }

export const rendererSchema: RoleSchema = {
  type: 'object',
  required: ['out', 'nginxConf', 'id'],
  properties: {
    ...commonRoleProperties,
    out: { type: 'string', minLength: 1 },
    nginxConf: { type: 'string', minLength: 1 },
    templates: { type: 'string', minLength: 1 },
    nginxBin: { type: 'string', minLength: 1, default: 'nginx' },
    nginxPrefix: { type: 'string', minLength: 1 },
    nginxPid: { type: 'string', minLength: 1 },
    id: { type: 'string', pattern: DNS_LABEL_PATTERN },
    minWait: { ...duration, default: '50ms' },
    maxWait: { ...duration, default: '1s' },
    statusPort: { type: 'integer', minimum: 1, maximum: 65535, default: 8597 },
    reloadTimeout: { ...duration, default: '10s' },
    announceInterval: { ...duration, default: '5s' },
    mode: {
      type: 'string',
      enum: ['auto', 'lua', 'file'],
      default: 'auto',
      description: 'lua: endpoints pushed into nginx (lua_shared_dict + balancer_by_lua), no reload on an endpoint change; ' +
        'file: endpoints written into upstream files, a reload per change; auto: lua when the main nginx config loads ngx_http_lua_module, else file',
    },
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
  }
}

/** A default renderer id from the machine name, made into a DNS label. */
export function defaultRendererId (name = hostname()): string {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '')
  return label === '' ? 'renderer' : label
}
