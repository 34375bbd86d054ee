// The fast path in front of fastify, through a real server and fetch: the
// plain endpoints read answers exactly what fastify's route answers (the
// blocking form with index=0 returns at once and always goes through fastify),
// tokens are checked the same, and every other case still gets fastify's
// answer (401, 404, 400 with a JSON error).
import t from 'tap'
import { startStack, endpoint, type Stack } from './lookup-setup.js'

const READ = 'fast-path-read-token'
const auth = { authorization: `Bearer ${READ}` }
let s: Stack

t.before(async () => {
  s = await startStack({ apiReadToken: [READ] })
  await s.putEndpoint(endpoint('web', '10.240.0.21', { containerId: 'bbbbbbbbbbbb0001' }))
  await s.putEndpoint(endpoint('web', '10.240.0.22', { containerId: 'bbbbbbbbbbbb0002', health: 'unhealthy' }))
  const until = Date.now() + 5000
  while ((s.lookup.view.get('web')?.endpoints.size ?? 0) < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
})
t.teardown(async () => { await s?.close() })

const headersOf = (r: Response): Record<string, string> => {
  const h: Record<string, string> = {}
  r.headers.forEach((v, k) => { if (k !== 'date') h[k] = v })
  return h
}

t.test('same status, headers and body as the fastify route', async (t) => {
  for (const q of ['', '?all=true']) {
    const fast = await fetch(`${s.http}/v1/services/web/endpoints${q}`, { headers: auth })
    const viaFastify = await fetch(`${s.http}/v1/services/web/endpoints${q === '' ? '?index=0' : `${q}&index=0`}`, { headers: auth })
    t.equal(fast.status, 200)
    t.equal(viaFastify.status, 200)
    t.same(headersOf(fast), headersOf(viaFastify), `headers${q}`)
    t.equal(await fast.text(), await viaFastify.text(), `body${q}`)
  }
})

t.test('tokens, unknown services and bad names are answered by fastify', async (t) => {
  const none = await fetch(`${s.http}/v1/services/web/endpoints`)
  t.equal(none.status, 401)
  t.equal((await none.json() as { error: { code: string } }).error.code, 'DG_UNAUTHORIZED')
  t.equal((await fetch(`${s.http}/v1/services/web/endpoints`, { headers: { authorization: 'Bearer wrong-token-123' } })).status, 401)
  const missing = await fetch(`${s.http}/v1/services/nope/endpoints`, { headers: auth })
  t.equal(missing.status, 404)
  t.equal((await missing.json() as { error: { code: string } }).error.code, 'DG_NOT_FOUND')
  const bad = await fetch(`${s.http}/v1/services/Bad_Name/endpoints`, { headers: auth })
  t.equal(bad.status, 400)
  const head = await fetch(`${s.http}/v1/services/web/endpoints`, { method: 'HEAD', headers: auth })
  t.equal(head.status, 200)
})

t.test('a change is visible on the next plain read; requests are counted once', async (t) => {
  const before = await (await fetch(`${s.http}/v1/services/web/endpoints`, { headers: auth })).json() as { index: number }
  await s.putEndpoint(endpoint('web', '10.240.0.23', { containerId: 'bbbbbbbbbbbb0003' }))
  const until = Date.now() + 5000
  let after = before
  while (after.index === before.index && Date.now() < until) {
    after = await (await fetch(`${s.http}/v1/services/web/endpoints`, { headers: auth })).json() as { index: number }
  }
  t.ok(after.index > before.index)
  t.ok((after as unknown as { endpoints: Array<{ ip: string }> }).endpoints.some((e) => e.ip === '10.240.0.23'))
  const count = async (): Promise<number> => {
    const text = await (await fetch(`${s.http}/metrics`, { headers: auth })).text()
    const m = /driftgate_lookup_http_requests_total\{route="\/v1\/services\/:name\/endpoints",status="200"\} (\d+)/.exec(text)
    return Number(m?.[1] ?? 0)
  }
  const n0 = await count()
  for (let i = 0; i < 5; i++) await fetch(`${s.http}/v1/services/web/endpoints`, { headers: auth })
  t.equal(await count(), n0 + 5)
})
