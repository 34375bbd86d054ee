// Lua mode against a real nats-server and a real nginx with the Lua module:
// endpoint changes pushed into the shared dict without a reload, hostile
// pushes refused whole, balancing options, and an nginx restart noticed.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type KV, type NatsConnection } from 'nats'
import { startNats, startNginx, freePort, waitFor } from '../harness/index.js'
import { ensureBuckets, encodeJson } from '../../src/bus/index.js'
import { createLogger, silentLogger } from '../../src/core/index.js'
import { createRenderer, type Renderer } from '../../src/renderer/index.js'
import { ep, svc } from '../unit/renderer-fixtures.js'
import { closeBackendLan, exampleHttpBody, startBackend, get, type Backend } from './renderer-fixtures.js'

const nats = await startNats()
const out = mkdtempSync(join(tmpdir(), 'dg-lua-out-'))
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: true })
const statusPort = await freePort()
const nc: NatsConnection = await connect({ servers: nats.url })
const kv = await ensureBuckets(nc)
const backends: Backend[] = await Promise.all(['b1', 'b2', 'b3'].map(async (n) => await startBackend(n)))
t.teardown(closeBackendLan)

let renderer: Renderer
t.teardown(async () => {
  await renderer?.close()
  await nc.close()
  await Promise.all(backends.map(async (b) => await b.close()))
  await nginx.stop()
  await nats.stop()
  rmSync(out, { recursive: true, force: true })
})

const put = async (bucket: KV, [key, value]: [string, unknown]): Promise<void> => { await bucket.put(key, encodeJson(value)) }
const backendEp = (service: string, i: number, over = {}) => ep(service, i + 1, { ip: backends[i].host, port: backends[i].port, ...over })
const metric = async (name: string, labels = ''): Promise<number> => {
  const text = await renderer.registry.metrics()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) if ((m[1] ?? '').includes(labels)) sum += Number(m[2])
  return sum
}
const reloads = async (): Promise<number> => await metric('driftgate_renderer_reloads_total', 'result="ok"')
const through = async (host: string) => await get(nginx.port, host)
/** Waits until the renderer routes (or stopped routing) a container: the push went through. */
const routed = async (id: string, want = true): Promise<void> => {
  await waitFor(() => (renderer.applied?.containers.includes(id) ?? false) === want, { what: `${id.slice(0, 12)} routed=${want}` })
}
const bodies = async (host: string, n: number): Promise<string[]> => {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push((await through(host)).body.trim())
  return out
}
const control = async (method: string, body?: string | Buffer, localAddress?: string): Promise<{ status: number, text: string }> =>
  await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: statusPort, path: '/driftgate/endpoints', method, localAddress, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end(body)
  })

t.before(async () => {
  renderer = createRenderer({
    id: 'edge1', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`,
    nginxBin: '/usr/sbin/nginx', statusPort, minWaitMs: 5, maxWaitMs: 200, mode: 'auto',
    reloadTimeoutMs: 5000, announceIntervalMs: 60_000,
  }, { nc, log: process.env.DG_TEST_LOG != null ? createLogger({ level: 'debug' }) : silentLogger() })
  await renderer.start()
  await waitFor(() => renderer.generation > 0, { what: 'first apply' })
})

t.test('auto picks lua; endpoint changes are served without a reload', async (t) => {
  t.equal(renderer.mode, 'lua')
  await put(kv.services, svc('web'))
  await put(kv.endpoints, backendEp('web', 0))
  await waitFor(async () => (await through('web.example.com')).body === 'b1\n', { what: 'web served' })
  await renderer.idle()
  await nginx.settled()
  const before = await reloads()
  const workers = readFileSync(`/proc/${nginx.pid()}/task/${nginx.pid()}/children`, 'utf8')
  await put(kv.endpoints, backendEp('web', 1))
  await waitFor(async () => (await bodies('web', 6)).includes('b2'), { what: 'b2 served' })
  await put(kv.endpoints, backendEp('web', 0, { state: 'draining' }))
  await waitFor(async () => !(await bodies('web', 6)).includes('b1'), { what: 'b1 gone' })
  t.same([...new Set(await bodies('web', 6))], ['b2'])
  t.equal(await reloads(), before, 'no reload for endpoint changes')
  t.equal(readFileSync(`/proc/${nginx.pid()}/task/${nginx.pid()}/children`, 'utf8'), workers, 'same nginx worker')
  t.notMatch(readFileSync(join(out, 'web.conf'), 'utf8'), /127\.0\.0\.1/, 'no endpoint in the file')
  t.ok(await metric('driftgate_renderer_pushes_total', 'result="ok"') > 0)
  t.equal(renderer.applied?.containers.length, 1)
})

t.test('unknown or malformed Host gets 404 and is never proxied', async (t) => {
  for (const host of ['[::ffff:127.0.0.1]', '127.0.0.1', 'nosuch', 'nosuch.example.com', 'localhost']) {
    const r = await through(host)
    t.equal(r.status, 404, host)
  }
  t.equal((await through('web')).status, 200)
  t.equal((await through('web.anything.example')).status, 200)
})

t.test('a service losing its last endpoint answers 503 without a reload', async (t) => {
  const before = await reloads()
  await put(kv.endpoints, backendEp('web', 1, { state: 'draining' }))
  await waitFor(async () => (await through('web')).status === 503, { what: 'web 503' })
  t.equal((await through('web')).body, 'no live endpoint\n')
  t.equal(await reloads(), before)
  await put(kv.endpoints, backendEp('web', 0))
  await put(kv.endpoints, backendEp('web', 1))
  await waitFor(async () => new Set(await bodies('web', 6)).size === 2, { what: 'two back' })
  t.equal(await reloads(), before)
})

t.test('a new service reloads once (validated); weights and methods are honoured', async (t) => {
  const before = await reloads()
  await put(kv.services, svc('wt', { method: 'round_robin' }))
  await put(kv.endpoints, backendEp('wt', 0, { weight: 1 }))
  await put(kv.endpoints, backendEp('wt', 1, { weight: 3 }))
  await routed(backendEp('wt', 0)[1].containerId)
  await routed(backendEp('wt', 1)[1].containerId)
  await waitFor(async () => (await through('wt')).status === 200, { what: 'wt served' })
  await waitFor(async () => new Set(await bodies('wt', 4)).size === 2, { what: 'wt from both' })
  await renderer.idle()
  // the reload's old worker may still accept a request or two (it knows no `wt`)
  await nginx.settled()
  t.equal(await reloads(), before + 1, 'one reload for the new upstream')
  const seen = await bodies('wt', 40)
  // Smooth weighted round robin gives exactly 10/30 over 40 picks; a push that
  // lands mid-run (a seq-only rewrite) restarts the sequence, hence ±2.
  const b1 = seen.filter((b) => b === 'b1').length
  t.ok(b1 >= 8 && b1 <= 12, `weight 1 of 4: ${b1} of 40`)
  t.equal(seen.filter((b) => b === 'b2').length, 40 - b1, `the rest to weight 3 (others: ${JSON.stringify(seen.filter((b) => b !== 'b1' && b !== 'b2'))})`)
  // ip_hash: one client address → one backend
  await put(kv.services, svc('wt', { method: 'ip_hash' }))
  await waitFor(async () => new Set(await bodies('wt', 12)).size === 1, { what: 'ip_hash sticks' })
  t.equal(await reloads(), before + 1, 'method change pushed, not reloaded')
})

t.test('a dead peer costs a retry, never an error, and is counted', async (t) => {
  const dead = await freePort() // nothing listens there
  await put(kv.services, svc('web', { maxFails: 1, failTimeout: '30s' }))
  await put(kv.endpoints, ep('web', 9, { ip: backends[0].host, port: dead }))
  await routed(ep('web', 9)[1].containerId)
  const r = await bodies('web', 12)
  t.notOk(r.some((b) => !['b1', 'b2'].includes(b)), 'every request answered by a live peer')
  t.ok(await metric('driftgate_renderer_nginx_upstream_errors', 'service="web"') >= 1, 'upstream error counted')
  t.ok(await metric('driftgate_renderer_nginx_requests', 'service="web"') >= 12, 'requests counted')
  await kv.endpoints.delete(ep('web', 9)[0])
})

t.test('hostile or broken pushes are refused whole and change nothing', async (t) => {
  await renderer.idle()
  const valid = (peer: string): string => `driftgate 1\ngen 999999\nsvc web round_robin 1 1000 127.0.0.1:${backends[2].port}:1\nsvc other round_robin 1 1000 ${peer}\n`
  const cases: Array<[string, string | Buffer]> = [
    ['not the format', '{"web": ["6.6.6.6:80"]}'],
    ['IPv6 address', valid('[::1]:80:1')],
    ['hostname', valid('evil.example:80:1')],
    ['octet > 255', valid('10.0.0.256:80:1')],
    ['port 0', valid('10.0.0.1:0:1')],
    ['port 70000', valid('10.0.0.1:70000:1')],
    ['weight 0', valid('10.0.0.1:80:0')],
    ['bad name', 'driftgate 1\ngen 999999\nsvc Web;x round_robin 1 1000 10.0.0.1:80:1\n'],
    ['10 MB body', Buffer.alloc(10 * 1024 * 1024, 'a')],
  ]
  for (const [what, body] of cases) {
    const r = await control('POST', body)
    t.ok(r.status === 400 || r.status === 413, `${what}: refused (${r.status})`)
  }
  // the same shape with valid values is accepted (the cases above fail for their one bad value)
  const probe = await control('POST', 'driftgate 1\ngen 1\nsvc probe round_robin 1 1000 10.0.0.1:80:1 10.0.0.2:65535:100\n')
  t.equal(probe.status, 200, 'a valid batch is accepted')
  const other = await control('POST', valid('10.0.0.1:80:1'), '127.0.0.5')
  t.equal(other.status, 403, 'a non-127.0.0.1 peer is refused')
  t.equal(JSON.parse((await control('GET')).text).generation, 1, 'only the valid batch applied')
  t.notOk((await bodies('web', 6)).includes('b3'), 'still the previous set')
})

t.test('upstream keepalive: connections to a backend are reused', async (t) => {
  const b = await startBackend('ka')
  t.teardown(async () => await b.close())
  await put(kv.services, svc('ka', { keepalive: 4 }))
  await put(kv.endpoints, ep('ka', 20, { ip: b.host, port: b.port }))
  await waitFor(async () => (await through('ka')).status === 200, { what: 'ka served' })
  const conns = b.connections
  for (let i = 0; i < 30; i++) await through('ka')
  t.ok(b.connections - conns <= 1, `30 requests over ${b.connections - conns} new upstream connection(s)`)
})

t.test('nginx restarted (not reloaded): the full state is pushed again within 1 s', async (t) => {
  const before = await metric('driftgate_renderer_pushes_total', 'kind="full"')
  await nginx.restart()
  const t0 = Date.now()
  await waitFor(async () => new Set(await bodies('web', 6)).size === 2, { what: 'served after restart', timeoutMs: 5000 })
  const ms = Date.now() - t0
  t.ok(ms <= 1500, `served from the right endpoints ${ms} ms after the restart`)
  t.ok(await metric('driftgate_renderer_pushes_total', 'kind="full"') > before, 'a full push')
})
