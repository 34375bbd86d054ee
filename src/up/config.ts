// `driftgate up` options: schema for loadConfig (flags > DRIFTGATE_* env >
// YAML) and the resolved form with absolute paths and defaults filled in.
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { DURATION_PATTERN, type RoleSchema } from '../core/index.js'
import { defaultRendererId } from '../renderer/index.js'

const port = (def: number): Record<string, unknown> => ({ type: 'integer', minimum: 1, maximum: 65535, default: def })

export const upSchema: RoleSchema = {
  type: 'object',
  properties: {
    data: { type: 'string', minLength: 1, default: './.driftgate' },
    nats: { type: 'string', minLength: 1 },
    natsPort: port(4222),
    docker: { type: 'string', minLength: 1, default: '/var/run/docker.sock' },
    hostId: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
    network: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$' },
    ipamDriverName: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$', default: 'driftgate' },
    ipamDriver: { type: 'boolean', default: true },
    agent: { type: 'boolean', default: true },
    port: port(8080),
    httpPort: port(7070),
    dnsPort: port(8600),
    bind: { type: 'string', format: 'ipv4', default: '127.0.0.1' },
    apiToken: { type: 'string', minLength: 8 },
    hostGrace: { type: 'string', pattern: DURATION_PATTERN, default: '30s' },
    logLevel: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
    // The agent's MacVLAN shim and container DNS (issue 19).
    shim: { type: 'boolean', default: true },
    shimAddress: { type: 'array', items: { type: 'string' }, default: [] },
    dnsForward: { type: 'array', items: { type: 'string' }, default: [] },
    resyncInterval: { type: 'string', pattern: DURATION_PATTERN, default: '30s' },
  },
}

export interface UpFileConfig {
  data: string
  nats?: string
  natsPort: number
  docker: string
  hostId?: string
  network?: string
  ipamDriverName: string
  ipamDriver: boolean
  agent: boolean
  port: number
  httpPort: number
  dnsPort: number
  bind: string
  apiToken?: string
  hostGrace: string
  logLevel: string
  shim?: boolean
  shimAddress?: string[]
  dnsForward?: string[]
  resyncInterval?: string
}

export interface UpOptions extends Omit<UpFileConfig, 'hostId' | 'ipamDriverName' | 'ipamDriver'> {
  /** Absolute. */
  data: string
  hostId: string
  /** Undefined: no IPAM driver. */
  ipamDriverName?: string
  /** Binaries (resolved by preflight). */
  natsBin?: string
  nginxBin?: string
}

export function resolveUpOptions (c: UpFileConfig, cwd = process.cwd(), host = hostname()): UpOptions {
  const { ipamDriver, ipamDriverName, ...rest } = c
  return {
    ...rest,
    data: resolve(cwd, c.data),
    hostId: c.hostId ?? defaultRendererId(host),
    ipamDriverName: ipamDriver ? ipamDriverName : undefined,
  }
}
