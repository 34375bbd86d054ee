import t from 'tap'
import { Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../src/registry/lookup/api.js'
import { silentLogger } from '../../src/core/index.js'
import { fakeView, ep, putEp, serviceRec, host } from './lookup-fixtures.js'
import type { AuthConfig } from '../../src/registry/lookup/auth.js'

const WRITE = 'write-token-123456'
const READ = 'read-token-abcdefg'

// A test-only write route: the way placement/IPAM plug their routes in.
async function testWrites (app: FastifyInstance): Promise<void> {
  app.post('/v1/test-write', { preHandler: app.requireWrite, config: { write: true } }, async () => ({ ok: true }))
}

async function setup (auth: AuthConfig = { apiToken: [WRITE] }) {
  const { view, t: tb } = fakeView()
  putEp(tb, ep('web', '10.240.0.1', { containerId: 'aaaaaaaaaaaa' }))
  putEp(tb, ep('web', '10.240.0.2', { containerId: 'bbbbbbbbbbbb', health: 'unhealthy' }))
  tb.services.put('web', serviceRec('web', 3))
  tb.hosts.put('h1', host('h1'))
  const metrics = new Registry()
  const app = await buildApi({ view, log: silentLogger(), metrics, auth, plugins: [testWrites] })
  return { app, view, tb }
}

t.test('read routes answer with their documented shapes', async (t) => {
  const { app, view } = await setup()
  t.teardown(() => app.close())
  const list = await app.inject('/v1/services')
  t.equal(list.statusCode, 200)
  t.same(list.json(), { services: [{ name: 'web', index: view.index('web'), version: 3, endpoints: { healthy: 1, total: 2 } }] })
  const one = await app.inject('/v1/services/web')
  t.equal(one.statusCode, 200)
  t.equal(one.json().spec.image, 'img:1')
  t.equal(one.headers['x-driftgate-index'], String(view.index('web')))
  const eps = await app.inject('/v1/services/web/endpoints')
  t.equal(eps.statusCode, 200)
  t.match(eps.headers['content-type'], /application\/json/)
  t.equal(eps.json().index, view.index('web'))
  t.same(eps.json().endpoints.map((e: { ip: string }) => e.ip), ['10.240.0.1'])
  t.notOk('mac' in eps.json().endpoints[0], 'public projection only')
  const all = await app.inject('/v1/services/web/endpoints?all=true')
  t.same(all.json().endpoints.map((e: { health: string }) => e.health), ['healthy', 'unhealthy'])
  const hosts = await app.inject('/v1/hosts')
  t.equal(hosts.json().hosts[0].host, 'h1')
  const hz = await app.inject('/healthz')
  t.same(hz.json(), { status: 'ok', services: 1, hosts: 1 })
  const m = await app.inject('/metrics')
  t.match(m.body, /driftgate_lookup_http_requests_total/)
})

t.test('errors: bad name 400 DG_INVALID_NAME, unknown 404, bad query 400, unknown route 404 — all JSON', async (t) => {
  const { app } = await setup()
  t.teardown(() => app.close())
  for (const path of ['/v1/services/Web', '/v1/services/-x/endpoints', `/v1/services/${'a'.repeat(64)}`, '/v1/services/a_b']) {
    const r = await app.inject(path)
    t.equal(r.statusCode, 400, path)
    t.equal(r.json().error.code, 'DG_INVALID_NAME', path)
    t.match(r.json().error.message, /DNS label/)
  }
  const nf = await app.inject('/v1/services/nope/endpoints')
  t.equal(nf.statusCode, 404)
  t.same(nf.json(), { error: { code: 'DG_NOT_FOUND', message: 'service "nope" not found' } })
  for (const q of ['index=-1', 'index=abc', 'wait=forever', 'all=maybe']) {
    const r = await app.inject(`/v1/services/web/endpoints?${q}`)
    t.equal(r.statusCode, 400, q)
    t.equal(r.json().error.code, 'DG_VALIDATION', q)
  }
  const nr = await app.inject('/v2/whatever')
  t.equal(nr.statusCode, 404)
  t.equal(nr.json().error.code, 'DG_NOT_FOUND')
})

t.test('blocking query parks until the service changes, or answers at the end of the wait', async (t) => {
  const { app, view, tb } = await setup()
  t.teardown(() => app.close())
  const idx = view.index('web')
  const t0 = Date.now()
  const pending = app.inject(`/v1/services/web/endpoints?index=${idx}&wait=10s`)
  setTimeout(() => putEp(tb, ep('web', '10.240.0.3', { containerId: 'cccccccccccc' })), 50)
  const r = await pending
  t.ok(Date.now() - t0 < 2000, 'returned on change')
  t.ok(r.json().index > idx)
  t.equal(r.json().endpoints.length, 2)
  const t1 = Date.now()
  const idle = await app.inject(`/v1/services/web/endpoints?index=${r.json().index}&wait=100ms`)
  const took = Date.now() - t1
  t.ok(took >= 95 && took < 1000, `waited ${took} ms`)
  t.equal(idle.json().index, r.json().index)
  const stale = await app.inject(`/v1/services/web/endpoints?index=${idx}&wait=10s`)
  t.ok(stale.json().index > idx, 'already past: answers at once')
})

t.test('writes need a write token; 401 with a clear message; read token protects reads but not /healthz', async (t) => {
  const { app } = await setup({ apiToken: [WRITE], apiReadToken: [READ] })
  t.teardown(() => app.close())
  const none = await app.inject({ method: 'POST', url: '/v1/test-write' })
  t.equal(none.statusCode, 401)
  t.equal(none.json().error.code, 'DG_UNAUTHORIZED')
  t.match(none.json().error.message, /missing bearer token/)
  t.match(none.headers['www-authenticate'], /Bearer/)
  const wrong = await app.inject({ method: 'POST', url: '/v1/test-write', headers: { authorization: 'Bearer nope-nope-nope' } })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.json().error.message, /wrong bearer token/)
  const readTok = await app.inject({ method: 'POST', url: '/v1/test-write', headers: { authorization: `Bearer ${READ}` } })
  t.equal(readTok.statusCode, 401, 'read token cannot write')
  const ok = await app.inject({ method: 'POST', url: '/v1/test-write', headers: { authorization: `Bearer ${WRITE}` } })
  t.equal(ok.statusCode, 200)
  t.equal((await app.inject('/v1/services')).statusCode, 401)
  t.equal((await app.inject({ url: '/v1/services', headers: { authorization: `Bearer ${READ}` } })).statusCode, 200)
  t.equal((await app.inject({ url: '/v1/services', headers: { authorization: `bearer ${WRITE}` } })).statusCode, 200, 'write token reads too')
  t.equal((await app.inject('/healthz')).statusCode, 200)
})

t.test('reads are open without a read token; writes refused when no write token is configured', async (t) => {
  const { app } = await setup({})
  t.teardown(() => app.close())
  t.equal((await app.inject('/v1/services')).statusCode, 200)
  const w = await app.inject({ method: 'POST', url: '/v1/test-write', headers: { authorization: `Bearer ${WRITE}` } })
  t.equal(w.statusCode, 401)
  t.match(w.json().error.message, /writes are disabled/)
})

t.test('token config: short tokens rejected, token file read with comments', async (t) => {
  const { createAuth } = await import('../../src/registry/lookup/auth.js')
  t.throws(() => createAuth({ apiToken: ['short'] }), { code: 'DG_CONFIG_INVALID' })
  t.throws(() => createAuth({ apiTokenFile: '/nonexistent/tokens' }), { code: 'DG_CONFIG_INVALID' })
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs')
  const dir = mkdtempSync('/tmp/dg-lookup-')
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(`${dir}/tokens`, '# ops\nfile-token-0001  # alice\n\nfile-token-0002\n')
  const { app } = await setup({ apiTokenFile: `${dir}/tokens` })
  t.teardown(() => app.close())
  const ok = await app.inject({ method: 'POST', url: '/v1/test-write', headers: { authorization: 'Bearer file-token-0002' } })
  t.equal(ok.statusCode, 200)
})
