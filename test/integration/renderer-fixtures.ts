// Helpers for the renderer's integration tests and benches (not a test file):
// the example nginx.conf's http {} body made to run under the harness's nginx,
// tiny loopback backends, and an HTTP GET that never reuses a connection.
import { readFileSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import { join } from 'node:path'
import { projectRoot } from '../../src/cli/version.js'
import { Testbed } from '../../src/lab/index.js'

/**
 * The inner text of nginx/nginx.conf's http {} block, minus its include (the
 * harness adds one for the renderer's --out) and listening on the harness's
 * loopback port. So the integration tests exercise the shipped example.
 */
export function exampleHttpBody (extra = ''): string {
  const text = readFileSync(join(projectRoot(), 'nginx', 'nginx.conf'), 'utf8')
  const start = text.indexOf('http {') + 'http {'.length
  const end = text.lastIndexOf('}')
  return text.slice(start, end)
    .replace(/^\s*include \/etc\/nginx\/driftgate\/\*\.conf;\n/m, '')
    .replace(/^\s*access_log off;\n/m, '')
    .replace('listen 80 default_server;', 'listen 127.0.0.1:{{port}} default_server;') + extra
}

export interface Backend { host: string, port: number, hits: number, connections: number, close: () => Promise<void> }

/**
 * The address backends listen on: a testbed LAN with no Docker host (a bridge
 * with its gateway address in 10.240.0.0/13), because endpoint addresses in
 * 127.0.0.0/8 are refused (a loopback endpoint would make nginx proxy to the
 * machine itself). One per test process, torn down with it.
 */
let lan: Promise<Testbed> | undefined
export async function backendAddress (): Promise<string> {
  lan ??= Testbed.create({ hosts: 0, network: false, name: 'backends' })
  return (await lan).gateway
}
export async function closeBackendLan (): Promise<void> {
  const tb = await lan
  lan = undefined
  await tb?.teardown()
}

/** An HTTP server on the backend LAN answering its own name. */
export async function startBackend (name: string, port = 0): Promise<Backend> {
  const host = await backendAddress()
  const b = { host, port: 0, hits: 0, connections: 0, close: async () => {} }
  const server: Server = createServer((req, res) => {
    b.hits++
    req.resume()
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name}\n`)
  })
  server.on('connection', () => { b.connections++ })
  await new Promise<void>((resolve) => server.listen(port, host, () => resolve()))
  const addr = server.address()
  b.port = typeof addr === 'object' && addr != null ? addr.port : 0
  b.close = async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  return b
}

export interface Reply { status: number, body: string, error?: string }

/** GET through nginx with a given Host (fresh connection each time). */
export function get (port: number, host: string, path = '/', timeoutMs = 5000): Promise<Reply> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', (err) => resolve({ status: 0, body, error: err.message }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve({ status: 0, body: '', error: err.message }))
    req.end()
  })
}
