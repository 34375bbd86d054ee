// GET /v1/auth (what a token may do: the console greys out writes for a read
// token) and the write refusal that names a read-only token as such.
import t from 'tap'
import { Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../src/registry/lookup/api.js'
import { silentLogger } from '../../src/core/index.js'
import { fakeView } from './lookup-fixtures.js'
import type { AuthConfig } from '../../src/registry/lookup/auth.js'

const WRITE = 'write-token-123456'
const READ = 'read-token-abcdefg'

async function api (auth: AuthConfig): Promise<FastifyInstance> {
  const app = await buildApi({
    view: fakeView().view, log: silentLogger(), metrics: new Registry(), auth,
    plugins: [async (a) => { a.post('/v1/test-write', async () => ({ ok: true })) }],
  })
  t.teardown(() => app.close())
  return app
}
const bearer = (tok: string): Record<string, string> => ({ authorization: `Bearer ${tok}` })

const cases: Array<{ desc: string, auth: AuthConfig, headers: Record<string, string>, want: unknown }> = [
  { desc: 'no token sent', auth: { apiToken: [WRITE], apiReadToken: [READ] }, headers: {}, want: { token: 'none', readsNeedToken: true, writesEnabled: true } },
  { desc: 'a read token', auth: { apiToken: [WRITE], apiReadToken: [READ] }, headers: bearer(READ), want: { token: 'read', readsNeedToken: true, writesEnabled: true } },
  { desc: 'a write token', auth: { apiToken: [WRITE], apiReadToken: [READ] }, headers: bearer(WRITE), want: { token: 'write', readsNeedToken: true, writesEnabled: true } },
  { desc: 'an unknown token (public route: answered, not 401)', auth: { apiToken: [WRITE], apiReadToken: [READ] }, headers: bearer('nope-nope-nope'), want: { token: 'wrong', readsNeedToken: true, writesEnabled: true } },
  { desc: 'reads open, any token but a write one is wrong', auth: { apiToken: [WRITE] }, headers: bearer(READ), want: { token: 'wrong', readsNeedToken: false, writesEnabled: true } },
  { desc: 'writes disabled', auth: { apiReadToken: [READ] }, headers: bearer(READ), want: { token: 'read', readsNeedToken: true, writesEnabled: false } },
]

for (const c of cases) {
  t.test(`GET /v1/auth: ${c.desc}`, async (t) => {
    const r = await (await api(c.auth)).inject({ url: '/v1/auth', headers: c.headers })
    t.equal(r.statusCode, 200)
    t.same(r.json(), c.want)
  })
}

t.test('a write with a read token: 401 saying the token can only read; a wrong one still says wrong', async (t) => {
  const app = await api({ apiToken: [WRITE], apiReadToken: [READ] })
  const ro = await app.inject({ method: 'POST', url: '/v1/test-write', headers: bearer(READ) })
  t.equal(ro.statusCode, 401)
  t.match(ro.json().error.message, /can read but not write/)
  const wrong = await app.inject({ method: 'POST', url: '/v1/test-write', headers: bearer('nope-nope-nope') })
  t.match(wrong.json().error.message, /wrong bearer token/)
  t.equal((await app.inject({ method: 'POST', url: '/v1/test-write', headers: bearer(WRITE) })).statusCode, 200)
})
