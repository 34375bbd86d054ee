// The embedded nats-server of `driftgate up` / `driftgate demo`: one server
// with JetStream, its store under the data dir, listening on one address.
import { mkdirSync } from 'node:fs'
import { connect } from 'nats'
import { PreflightError } from '../core/index.js'
import { logTail, spawnLogged, stopPid } from './procs.js'

export interface NatsChildOptions {
  bin: string
  host: string
  port: number
  /** JetStream store folder. */
  storeDir: string
  logFile: string
  detached?: boolean
  timeoutMs?: number
  /** nats-server config with the users (see secrets.ts); without it the server takes anyone. */
  confFile?: string
  /** Credentials for the readiness probe (a user allowed $JS.API.INFO). */
  probe?: { user: string, pass: string }
}

export interface NatsChild {
  pid: number
  url: string
  stop: () => Promise<void>
}

export function natsArgs (o: NatsChildOptions): string[] {
  // The config names the users; flags set the rest (they take precedence over the file).
  return [...(o.confFile !== undefined ? ['-c', o.confFile] : []), '-js', '-sd', o.storeDir, '-a', o.host, '-p', String(o.port), '-n', 'driftgate-embedded']
}

/** Resolves once JetStream answers; rejects (and stops the server) otherwise. */
export async function startNatsChild (o: NatsChildOptions): Promise<NatsChild> {
  mkdirSync(o.storeDir, { recursive: true })
  const proc = spawnLogged(o.bin, natsArgs(o), o.logFile, { detached: o.detached })
  const url = `nats://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${o.port}`
  const stop = async (): Promise<void> => { await stopPid(proc.pid, { graceMs: 10_000 }) }
  const deadline = Date.now() + (o.timeoutMs ?? 20_000)
  let last = ''
  for (;;) {
    const exited = proc.exited()
    if (exited !== undefined) {
      throw new PreflightError(`nats-server did not start (${exited}): ${logTail(o.logFile, 5)}`)
    }
    try {
      const nc = await connect({ servers: url, timeout: 1000, maxReconnectAttempts: 0, ...o.probe })
      try {
        await (await nc.jetstreamManager({ timeout: 2000 })).getAccountInfo()
        return { pid: proc.pid, url, stop }
      } finally { await nc.close() }
    } catch (err) { last = (err as Error).message }
    if (Date.now() > deadline) {
      await stop()
      throw new PreflightError(`nats-server on ${url} did not get ready with JetStream (${last}); see ${o.logFile}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
