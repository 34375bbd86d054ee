// Issue 15 holes 5 and 6 on the HTTP side, against the real registry API
// (startLookup with the service-spec and IPAM write routes) and a real
// nats-server: token before body, loopback by default, env values hidden
// from callers without the write token, capped blocking queries, slow
// bodies timed out.
import t from 'tap'
import { request as httpRequest } from 'node:http'
import { connect as tcpConnect } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Registry } from 'prom-client'
import { openBucket, Buckets, encodeJson } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { startLookup, type Lookup } from '../../src/registry/lookup/index.js'
import { resolveRegistryConfig } from '../../src/registry/config.js'
import { serviceRoutes } from '../../src/placement/routes.js'
import { ipamRoutes } from '../../src/registry/ipam/routes.js'
import { startStack, serviceRecord, type Stack } from './lookup-setup.js'

const WRITE = 'hardening-write-token'
const READ = 'hardening-read-token'
let s: Stack
let api: Lookup
let base: string

t.before(async () => {
  s = await startStack({ apiToken: [WRITE] }, async (kv) => {
    const rec = serviceRecord('web')
    rec.spec.env = { DB_PASSWORD: 'hunter2-secret', MODE: 'prod' }
    await kv.services.put('web', encodeJson(rec))
  })
  const kv = {
    ...s.kv,
    assignments: await openBucket(s.nc, Buckets.assignments),
    leases: await openBucket(s.nc, Buckets.leases),
    ipam: await openBucket(s.nc, Buckets.ipam),
  }
  api = await startLookup({
    kv: s.kv, log: silentLogger(), metrics: new Registry(),
    config: {
      httpPort: 0, httpHost: '127.0.0.1', dnsPort: 0, dnsHost: '127.0.0.1', apiToken: [WRITE],
      maxBlockingQueries: 5, maxBlockingQueriesPerClient: 3, httpRequestTimeoutMs: 1000,
    },
    plugins: [serviceRoutes({ kv, log: silentLogger() }), ipamRoutes({ kv: kv.ipam, log: silentLogger() })],
  })
  base = `http://127.0.0.1:${api.httpPort}`
})
t.teardown(async () => { await api?.close(); await s?.close() })

t.test('writes without a token get 401 before their body is parsed', async (t) => {
  const broken = await fetch(`${base}/v1/services/web`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: 'name: [unclosed\n  : : :' })
  t.equal(broken.status, 401, 'broken YAML without a token: 401, not 400')
  const brokenJson = await fetch(`${base}/v1/ipam/pools/mv0`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"subnet":' })
  t.equal(brokenJson.status, 401, 'broken JSON on an IPAM write without a token: 401')
  const patch = await fetch(`${base}/v1/services/web`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{' })
  t.equal(patch.status, 401)

  // ~900 KB of YAML (many small keys: the slow case for the parser), no token.
  const big = Array.from({ length: 60_000 }, (_, i) => `k${i}: v${i}`).join('\n')
  const h = monitorEventLoopDelay({ resolution: 5 })
  h.enable()
  const t0 = performance.now()
  const r = await fetch(`${base}/v1/services/web`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: big })
  const ms = performance.now() - t0
  h.disable()
  t.equal(r.status, 401)
  t.equal((await r.json() as { error: { code: string } }).error.code, 'DG_UNAUTHORIZED')
  const maxDelay = h.max / 1e6
  t.comment(`900 KB YAML without a token: ${ms.toFixed(0)} ms, worst event-loop delay ${maxDelay.toFixed(0)} ms`)
  t.ok(maxDelay < 150, `event loop not blocked by parsing (worst delay ${maxDelay.toFixed(0)} ms)`)
  const ok = await fetch(`${base}/v1/services/web`, { method: 'PATCH', headers: { authorization: `Bearer ${WRITE}`, 'content-type': 'application/json' }, body: '{"replicas":2}' })
  t.equal(ok.status, 200, 'with the token the write goes through')
})

t.test('HTTP API and DNS bind to loopback by default', async (t) => {
  const cfg = resolveRegistryConfig({})
  t.equal(cfg.httpHost, '127.0.0.1')
  t.equal(cfg.dnsHost, '127.0.0.1')
  const l = await startLookup({ kv: s.kv, log: silentLogger(), metrics: new Registry(), config: { httpPort: 0, dnsPort: 0 } })
  t.teardown(() => l.close())
  const addr = l.api.server.address()
  t.equal(typeof addr === 'object' && addr !== null ? addr.address : addr, '127.0.0.1', 'HTTP on 127.0.0.1')
  t.equal(l.dns.address(), '127.0.0.1', 'DNS on 127.0.0.1')
})

t.test('env values are hidden from callers without the write token', async (t) => {
  const anon = await (await fetch(`${base}/v1/services/web`)).json() as { spec: { env: Record<string, string> } }
  t.same(anon.spec.env, { DB_PASSWORD: '<hidden>', MODE: '<hidden>' }, 'keys kept, values hidden')
  const wrong = await (await fetch(`${base}/v1/services/web`, { headers: { authorization: 'Bearer not-the-token' } })).json() as { spec: { env: Record<string, string> } }
  t.same(wrong.spec.env.DB_PASSWORD, '<hidden>')
  const writer = await (await fetch(`${base}/v1/services/web`, { headers: { authorization: `Bearer ${WRITE}` } })).json() as { spec: { env: Record<string, string> } }
  t.same(writer.spec.env, { DB_PASSWORD: 'hunter2-secret', MODE: 'prod' }, 'the write token sees the values')
  // A read token is not enough.
  const l = await startLookup({
    kv: s.kv, log: silentLogger(), metrics: new Registry(),
    config: { httpPort: 0, httpHost: '127.0.0.1', dnsPort: 0, dnsHost: '127.0.0.1', apiToken: [WRITE], apiReadToken: [READ] },
  })
  t.teardown(() => l.close())
  const reader = await (await fetch(`http://127.0.0.1:${l.httpPort}/v1/services/web`, { headers: { authorization: `Bearer ${READ}` } })).json() as { spec: { env: Record<string, string> } }
  t.same(reader.spec.env.DB_PASSWORD, '<hidden>', 'read token: hidden')
  const body = await (await fetch(`${base}/v1/placement`)).text()
  t.notMatch(body, /hunter2/, 'placement status carries no env value')
})

// A GET from a chosen loopback source address (127.0.0.x): per-client limits key on it.
function get (path: string, from: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { localAddress: from, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('blocking queries are capped per client and globally with 429', async (t) => {
  const index = api.view.index('web')
  const park = (from: string): Promise<{ status: number, body: string }> => get(`/v1/services/web/endpoints?index=${index}&wait=1500ms`, from)
  const first = [park('127.0.0.1'), park('127.0.0.1'), park('127.0.0.1')]
  await new Promise((r) => setTimeout(r, 200))
  const over = await get(`/v1/services/web/endpoints?index=${index}&wait=1500ms`, '127.0.0.1')
  t.equal(over.status, 429, 'fourth from the same client: 429')
  t.match(JSON.parse(over.body), { error: { code: 'DG_TOO_MANY_REQUESTS', message: /blocking queries/ } })
  const other = [park('127.0.0.2'), park('127.0.0.2')]
  await new Promise((r) => setTimeout(r, 200))
  t.equal(api.view.waiting(), 5)
  const global = await get(`/v1/services/web/endpoints?index=${index}&wait=1500ms`, '127.0.0.3')
  t.equal(global.status, 429, 'a fresh client over the global cap: 429')
  t.equal((await get('/v1/services/web/endpoints', '127.0.0.3')).status, 200, 'plain reads still answered')
  const done = await Promise.all([...first, ...other])
  t.same(done.map((d) => d.status), [200, 200, 200, 200, 200], 'parked ones answered at their timeout')
  t.equal((await get(`/v1/services/web/endpoints?index=${index}&wait=100ms`, '127.0.0.1')).status, 200, 'slots freed')
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /driftgate_lookup_blocking_refused_total\{scope="client"\} 1/)
  t.match(metrics, /driftgate_lookup_blocking_refused_total\{scope="global"\} 1/)
})

t.test('a slow body is cut off; a parked blocking query outlives the request timeout', async (t) => {
  const t0 = Date.now()
  const outcome = await new Promise<string>((resolve) => {
    const c = tcpConnect(api.httpPort, '127.0.0.1', () => {
      c.write(`PUT /v1/services/web HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name"`)
    })
    let got = ''
    c.on('data', (d: Buffer) => { got += d.toString() })
    c.on('close', () => resolve(got.split('\r\n')[0] || 'closed'))
    c.on('error', () => {})
    setTimeout(() => { resolve('still open after 6 s'); c.destroy() }, 6000)
  })
  t.comment(`slow body: "${outcome}" after ${Date.now() - t0} ms`)
  t.not(outcome, 'still open after 6 s', 'the connection is closed')
  t.ok(Date.now() - t0 < 4000, 'within a few seconds of the 1 s request timeout')
  const index = api.view.index('web')
  const parked = await get(`/v1/services/web/endpoints?index=${index}&wait=2500ms`, '127.0.0.4')
  t.equal(parked.status, 200, 'a 2.5 s blocking query is not cut by the 1 s request timeout')
})
