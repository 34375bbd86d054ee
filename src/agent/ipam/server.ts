// The Docker plugin HTTP server on a unix socket. Docker POSTs JSON to
// /<Interface>.<Method>; every answer is JSON with Docker's content type,
// and a failure is `{"Err": "...", "Error": "..."}` with status 200:
// libnetwork's IPAM client reads `Error` from a 200 answer (ipams/remote/api
// Response) and reports it as "remote: <message>"; `Err` is the common
// plugin-helper convention, kept for tools that read that one.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { chmodSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from '../../core/index.js'

export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json'
const MAX_BODY = 1024 * 1024
/** Owner and group (dockerd runs as root) only. */
export const SOCKET_MODE = 0o660

export type Handler = (body: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>

function send (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': PLUGIN_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

async function readBody (req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of req) {
    size += (c as Buffer).length
    if (size > MAX_BODY) throw new Error('request body too large')
    chunks.push(c as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text === '' || text === 'null') return {}
  const v = JSON.parse(text) as unknown
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new Error('request body must be a JSON object')
  return v as Record<string, unknown>
}

export interface PluginServerOptions {
  socketPath: string
  routes: Record<string, Handler>
  log: Logger
  /** Called after each request with the method name, outcome and seconds taken. */
  observe?: (method: string, ok: boolean, seconds: number) => void
}

export async function listenPlugin (o: PluginServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const method = (req.url ?? '').replace(/^\//, '').split('?')[0]
    const handler = o.routes[method]
    const started = process.hrtime.bigint()
    const done = (ok: boolean): void => o.observe?.(method in o.routes ? method : 'unknown', ok, Number(process.hrtime.bigint() - started) / 1e9)
    if (req.method !== 'POST' || handler == null) {
      req.resume()
      const m = `unknown plugin call ${req.method ?? ''} /${method}`
      send(res, 404, { Err: m, Error: m })
      done(false)
      return
    }
    void (async () => {
      try {
        const answer = await handler(await readBody(req))
        send(res, 200, answer)
        done(true)
      } catch (err) {
        const message = (err as Error).message ?? String(err)
        o.log.warn({ method, err: message }, 'ipam driver call failed')
        send(res, 200, { Err: message, Error: message })
        done(false)
      }
    })()
  })
  mkdirSync(dirname(o.socketPath), { recursive: true })
  rmSync(o.socketPath, { force: true }) // a stale socket of a previous run
  // Whoever can connect can allocate and release addresses as this host: the
  // socket is 0660 (issue 15 hole 8), whatever the umask. It is bound under a
  // temporary name and renamed once restricted, so Docker never finds it open.
  const staging = `${o.socketPath}.${process.pid}.tmp`
  rmSync(staging, { force: true })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(staging, () => { server.off('error', reject); resolve() })
  })
  try {
    chmodSync(staging, SOCKET_MODE)
    renameSync(staging, o.socketPath)
  } catch (err) {
    server.close()
    rmSync(staging, { force: true })
    throw err
  }
  return server
}
