// Which requests the fast path answers (and which it leaves to fastify), with
// a real LookupView over fake tables and stand-in req/res objects.
import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createFastPath, plainEndpointsRead } from '../../src/registry/lookup/fast-path.js'
import { fakeView, ep, putEp } from './lookup-fixtures.js'

t.test('plainEndpointsRead', async (t) => {
  const cases: Array<{ desc: string, input: string, expected: { name: string, all: boolean } | undefined }> = [
    { desc: 'plain read', input: '/v1/services/web/endpoints', expected: { name: 'web', all: false } },
    { desc: 'all=true', input: '/v1/services/web/endpoints?all=true', expected: { name: 'web', all: true } },
    { desc: 'all=false', input: '/v1/services/web-2/endpoints?all=false', expected: { name: 'web-2', all: false } },
    { desc: 'blocking query goes to fastify', input: '/v1/services/web/endpoints?index=3', expected: undefined },
    { desc: 'two parameters', input: '/v1/services/web/endpoints?all=true&wait=1s', expected: undefined },
    { desc: 'unknown parameter', input: '/v1/services/web/endpoints?x=1', expected: undefined },
    { desc: 'empty query is no query', input: '/v1/services/web/endpoints?', expected: { name: 'web', all: false } },
    { desc: 'trailing slash', input: '/v1/services/web/endpoints/', expected: undefined },
    { desc: 'upper case name', input: '/v1/services/Web/endpoints', expected: undefined },
    { desc: 'injection attempt', input: '/v1/services/a;b/endpoints', expected: undefined },
    { desc: 'encoded slash', input: '/v1/services/a%2Fb/endpoints', expected: undefined },
    { desc: 'nested path', input: '/v1/services/a/b/endpoints', expected: undefined },
    { desc: 'empty name', input: '/v1/services//endpoints', expected: undefined },
    { desc: 'name of 64 characters', input: `/v1/services/${'a'.repeat(64)}/endpoints`, expected: undefined },
    { desc: 'name of 63 characters', input: `/v1/services/${'a'.repeat(63)}/endpoints`, expected: { name: 'a'.repeat(63), all: false } },
    { desc: 'service, not endpoints', input: '/v1/services/web', expected: undefined },
    { desc: 'other route', input: '/v1/hosts', expected: undefined },
  ]
  for (const c of cases) t.same(plainEndpointsRead(c.input), c.expected, c.desc)
})

interface Sent { status?: number, headers?: Record<string, unknown>, body?: Buffer }
function call (fp: ReturnType<typeof createFastPath>, method: string, url: string, authorization?: string): { handled: boolean, sent: Sent } {
  const sent: Sent = {}
  const req = { method, url, headers: { authorization } } as unknown as IncomingMessage
  const res = {
    writeHead (status: number, headers: Record<string, unknown>) { sent.status = status; sent.headers = headers },
    end (body: Buffer) { sent.body = body },
  } as unknown as ServerResponse
  return { handled: fp.handle(req, res), sent }
}

t.test('answers plain reads of known services, hands everything else over', async (t) => {
  const { view, t: tables } = fakeView()
  putEp(tables, ep('web', '10.240.0.11'))
  putEp(tables, ep('web', '10.240.0.12', { health: 'unhealthy' }))
  const answered = { n: 0 }
  const fp = createFastPath({ view, auth: { allowsRead: (a) => a === 'Bearer ok', readProtected: true }, answered })

  const ok = call(fp, 'GET', '/v1/services/web/endpoints', 'Bearer ok')
  t.ok(ok.handled)
  t.equal(ok.sent.status, 200)
  t.same(ok.sent.headers, { 'content-type': 'application/json; charset=utf-8', 'x-driftgate-index': String(view.get('web')!.index), 'content-length': ok.sent.body!.length })
  const body = JSON.parse(ok.sent.body!.toString())
  t.same(body.endpoints.map((e: { ip: string }) => e.ip), ['10.240.0.11'], 'healthy only')
  t.equal(JSON.parse(call(fp, 'GET', '/v1/services/web/endpoints?all=true', 'Bearer ok').sent.body!.toString()).endpoints.length, 2)
  t.equal(answered.n, 2)
  t.same(call(fp, 'GET', '/v1/services/web/endpoints?all=true', 'Bearer ok').sent.body, call(fp, 'GET', '/v1/services/web/endpoints?all=true', 'Bearer ok').sent.body, 'cached answer reused')
  putEp(tables, ep('web', '10.240.0.13'))
  const after = call(fp, 'GET', '/v1/services/web/endpoints', 'Bearer ok')
  t.same(JSON.parse(after.sent.body!.toString()).endpoints.map((e: { ip: string }) => e.ip), ['10.240.0.11', '10.240.0.13'], 'a change is served at once')
  t.equal(after.sent.headers!['x-driftgate-index'], String(view.get('web')!.index))
  t.equal(answered.n, 5)

  t.notOk(call(fp, 'GET', '/v1/services/web/endpoints').handled, 'no token: fastify answers the 401')
  t.notOk(call(fp, 'GET', '/v1/services/nope/endpoints', 'Bearer ok').handled, 'unknown service: fastify answers the 404')
  t.notOk(call(fp, 'HEAD', '/v1/services/web/endpoints', 'Bearer ok').handled)
  t.notOk(call(fp, 'POST', '/v1/services/web/endpoints', 'Bearer ok').handled)
  t.notOk(call(fp, 'GET', '/v1/services/web/endpoints?index=1', 'Bearer ok').handled)
  fp.disable()
  t.notOk(call(fp, 'GET', '/v1/services/web/endpoints', 'Bearer ok').handled, 'closing: fastify answers')
  t.equal(answered.n, 5, 'only answered requests are counted here')
})
