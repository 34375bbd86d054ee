// Looking at the demo from outside: requests through its nginx, and a free
// loopback port for the renderer's status listener.
import { request } from 'node:http'

/** One GET through nginx with a Host header; the test image answers {"host","ips"}. */
export async function getVia (port: number, host: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: 3000 }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({ status: 0, body: '' }))
    req.end()
  })
}

/** Distinct containers answering through nginx in `tries` fresh requests. */
export async function servingContainers (port: number, tries = 12): Promise<Set<string>> {
  const seen = new Set<string>()
  for (let i = 0; i < tries; i++) {
    const r = await getVia(port, 'web')
    if (r.status === 200) try { seen.add((JSON.parse(r.body) as { host: string }).host) } catch { /* not the test image */ }
  }
  return seen
}

export async function freeLoopbackPort (): Promise<number> {
  const net = await import('node:net')
  return await new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject)
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0)) })
  })
}
