// The one NATS connection helper every role uses: servers, credentials, TLS,
// reconnect forever, and status changes logged with fields.
import { readFileSync } from 'node:fs'
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats'
import { ConfigError, DriftgateError, ErrorCodes, type CommonRoleConfig, type Logger } from '../core/index.js'
import { redactUrls } from './redact.js'

export interface NatsOptions {
  /** One or more server URLs, comma separated or as an array. */
  servers: string | string[]
  name?: string
  user?: string
  pass?: string
  token?: string
  /** Path of a .creds file (JWT + nkey seed). */
  creds?: string
  tlsCa?: string
  tlsCert?: string
  tlsKey?: string
  /** Give up on the first connection after this long (then the role exits with a clear error). */
  connectTimeoutMs?: number
}

/** Maps a role's NATS settings (flags, env, YAML) onto connection options. */
export const DEFAULT_NATS = 'nats://127.0.0.1:4222'

export function natsOptionsFrom (cfg: Partial<CommonRoleConfig>, name: string): NatsOptions {
  return {
    servers: cfg.nats ?? DEFAULT_NATS,
    name,
    user: cfg.natsUser,
    pass: natsPassword(cfg),
    token: cfg.natsToken ?? secretFile(cfg.natsTokenFile, 'natsTokenFile'),
    creds: cfg.natsCreds,
    tlsCa: cfg.natsTlsCa,
    tlsCert: cfg.natsTlsCert,
    tlsKey: cfg.natsTlsKey,
  }
}

/** A secret kept in a file (systemd credentials, 0600 files): its first line. */
function secretFile (path: string | undefined, field: string): string | undefined {
  if (path == null) return undefined
  try {
    return readFileSync(path, 'utf8').split('\n')[0].trim()
  } catch (err) {
    throw new ConfigError('nats', [{ field, message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }])
  }
}

/** natsPass, or the first line of natsPassFile (the form that keeps it out of argv and env). */
function natsPassword (cfg: Partial<CommonRoleConfig>): string | undefined {
  if (cfg.natsPassFile === undefined) return cfg.natsPass
  if (cfg.natsPass !== undefined) {
    throw new ConfigError('nats', [{ field: 'natsPassFile', message: 'give natsPass or natsPassFile, not both' }])
  }
  return secretFile(cfg.natsPassFile, 'natsPassFile')
}

export function serverList (servers: string | string[]): string[] {
  const list = Array.isArray(servers) ? servers : servers.split(',')
  return list.map((s) => s.trim()).filter(Boolean)
}

export function connectionOptions (opts: NatsOptions): ConnectionOptions {
  const co: ConnectionOptions = {
    servers: serverList(opts.servers),
    name: opts.name,
    maxReconnectAttempts: -1, // reconnect forever: a role never gives up on NATS once connected
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 10_000,
    maxPingOut: 3,
    timeout: opts.connectTimeoutMs ?? 10_000,
    // Without this every request (each KV write) builds two Error objects with
    // stacks "just in case": ~30 µs per event, measured in bench/ingest.
    // DRIFTGATE_NATS_TRACES=1 turns them back on, to find where a timeout came from.
    noAsyncTraces: process.env.DRIFTGATE_NATS_TRACES !== '1',
  }
  if (opts.user != null) { co.user = opts.user; co.pass = opts.pass }
  if (opts.token != null) co.token = opts.token
  if (opts.creds != null) co.authenticator = credsAuthenticator(readFileSync(opts.creds))
  if (opts.tlsCa != null || opts.tlsCert != null) {
    co.tls = { caFile: opts.tlsCa, certFile: opts.tlsCert, keyFile: opts.tlsKey }
  }
  return co
}

/** Connects (failing with a clear error when no server answers) and logs every status change. */
export async function connectNats (opts: NatsOptions, log: Logger): Promise<NatsConnection> {
  const co = connectionOptions(opts)
  let nc: NatsConnection
  try {
    nc = await connect(co)
  } catch (err) {
    // The servers may carry user:pass: neither the message nor its cause may show them.
    const e = err as Error & { code?: string }
    const cause = Object.assign(new Error(redactUrls(e.message)), { code: e.code })
    throw new DriftgateError(ErrorCodes.NATS_UNAVAILABLE,
      `cannot connect to NATS at ${redactUrls(co.servers?.toString() ?? '')}: ${cause.message}. ` +
      'Check --nats / DRIFTGATE_NATS and that nats-server runs with JetStream (-js).', undefined, { cause })
  }
  log.info({ server: redactUrls(nc.getServer()), name: opts.name }, 'nats connected')
  void watchStatus(nc, log)
  return nc
}

async function watchStatus (nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    const fields = { event: s.type, data: typeof s.data === 'string' ? redactUrls(s.data) : undefined }
    if (s.type === 'pingTimer' || s.type === 'update') continue
    if (s.type === 'disconnect' || s.type === 'error') log.warn(fields, 'nats status')
    else log.info(fields, 'nats status')
  }
}
