// A tiny /metrics (and /healthz) listener for roles that have no HTTP API of their own.
import { createServer, type Server } from 'node:http'
import type { Registry } from 'prom-client'

export interface MetricsServer { port: number, close: () => Promise<void> }

export async function serveMetrics (registry: Registry, port: number, host = '0.0.0.0'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(body)
      }, (err: Error) => { res.writeHead(500).end(err.message) })
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const addr = server.address()
  return {
    port: typeof addr === 'object' && addr != null ? addr.port : port,
    close: async () => { await new Promise<void>((resolve) => server.close(() => resolve())) },
  }
}
