// Property tests (fast-check) for the registry's HTTP routes, over real HTTP
// against startLookup with the service-spec and IPAM write routes on a real
// nats-server: arbitrary path parameters (names with `;{}\n%2F`, percent
// soup, huge numbers) and query strings (repeated, unknown, huge values) on
// every route, with and without the write token. Properties: never a 5xx,
// every 4xx is the JSON error shape, and nothing is written (the KV streams'
// last sequences do not move). CI runs a seeded few hundred requests;
// FUZZ_RUNS=5000 (and FUZZ_SEED=<n>) for long runs.
import t from 'tap'
import fc from 'fast-check'
import { Agent, request as httpRequest } from 'node:http'
import { Registry } from 'prom-client'
import type { KV } from 'nats'
import { openBucket, Buckets, encodeJson } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { startLookup, type Lookup } from '../../src/registry/lookup/index.js'
import { serviceRoutes } from '../../src/placement/routes.js'
import { ipamRoutes } from '../../src/registry/ipam/routes.js'
import { startStack, endpoint, serviceRecord, type Stack } from './lookup-setup.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
const SEED = Number(process.env.FUZZ_SEED ?? 15_0615)
const WRITE = 'fuzz-write-token-1234'

let s: Stack
let api: Lookup
let buckets: KV[]
const agent = new Agent({ keepAlive: true, maxSockets: 4 })
const seen = new Map<number, number>()

t.before(async () => {
  s = await startStack({}, async (kv) => { await kv.services.put('web', encodeJson(serviceRecord('web'))) })
  await s.putEndpoint(endpoint('web', '10.240.7.1'))
  const ipam = await openBucket(s.nc, Buckets.ipam)
  const kv = { ...s.kv, assignments: await openBucket(s.nc, Buckets.assignments), leases: await openBucket(s.nc, Buckets.leases), ipam }
  buckets = [kv.services, kv.ipam, kv.endpoints, kv.hosts, kv.assignments]
  api = await startLookup({
    kv: s.kv, log: silentLogger(), metrics: new Registry(),
    config: { httpPort: 0, dnsPort: 0, apiToken: [WRITE], maxBlockingQueriesPerClient: 10_000 },
    plugins: [serviceRoutes({ kv, log: silentLogger() }), ipamRoutes({ kv: ipam, log: silentLogger() })],
  })
})
t.teardown(async () => {
  agent.destroy()
  t.comment(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`)
  await api?.close()
  await s?.close()
})

async function lastSeqs (): Promise<number[]> {
  return await Promise.all(buckets.map(async (b) => (await b.status()).streamInfo.state.last_seq))
}

interface Answer { status: number, body: string, type: string }

/** A raw request (path sent as is, no URL normalisation); a parked blocking query is cut after 400 ms. */
function send (method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer | 'parked'> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: api.httpPort, method, path, headers, agent }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, body: text, type: String(res.headers['content-type'] ?? '') }) })
    })
    const timer = setTimeout(() => { req.destroy(); resolve('parked') }, 400)
    req.on('error', (err) => { clearTimeout(timer); if (!req.destroyed) reject(err); else resolve('parked') })
    if (body !== undefined) req.write(body)
    req.end()
  })
}

// Path segments: valid names, hostile characters (raw where HTTP allows them, percent-encoded where not), huge numbers.
const hostile = fc.string({ unit: fc.constantFrom(...'ab-9;{}%.~!$&\'()*+,=:@_'.split('')), minLength: 0, maxLength: 80 })
const segment = fc.oneof(
  fc.constantFrom('web', 'nope', 'mv0', 'WEB', '-web', 'a'.repeat(64), '%2F', '..', '.', '%00', '%0A', 'web%0Ax', '%zz', 'web;x', '{name}', '99999999999999999999999'),
  hostile,
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
)
const queryValue = fc.oneof(
  fc.constantFrom('true', 'false', '1', '0', '-1', '1e999', '99999999999999999999', '1s', '30s', '10m', '1h', '999999h', '', 'NaN', '%zz', '[]', '{}'),
  hostile,
  fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String),
)
const query = fc.array(fc.tuple(fc.constantFrom('all', 'index', 'wait', 'foo', 'all[]', 'index[0]', '__proto__'), queryValue), { maxLength: 5 })
  .map((pairs) => pairs.length === 0 ? '' : '?' + pairs.map(([k, v]) => `${k}=${v}`).join('&'))

const ROUTES: Array<{ method: string, path: (seg: string) => string, body?: boolean }> = [
  { method: 'GET', path: () => '/v1/services' },
  { method: 'GET', path: (x) => `/v1/services/${x}` },
  { method: 'GET', path: (x) => `/v1/services/${x}/endpoints` },
  { method: 'GET', path: () => '/v1/hosts' },
  { method: 'GET', path: () => '/healthz' },
  { method: 'GET', path: () => '/v1/placement' },
  { method: 'GET', path: () => '/v1/ipam/pools' },
  { method: 'GET', path: (x) => `/v1/ipam/pools/${x}` },
  { method: 'GET', path: (x) => `/v1/ipam/pools/${x}/addresses` },
  { method: 'GET', path: (x) => `/v1/${x}` },
  { method: 'PUT', path: (x) => `/v1/services/${x}`, body: true },
  { method: 'PATCH', path: (x) => `/v1/services/${x}`, body: true },
  { method: 'DELETE', path: (x) => `/v1/services/${x}` },
  { method: 'PUT', path: (x) => `/v1/ipam/pools/${x}`, body: true },
  { method: 'DELETE', path: (x) => `/v1/ipam/pools/${x}` },
  { method: 'POST', path: (x) => `/v1/services/${x}`, body: true },
]

// Bodies that must never be written: invalid specs / pools (or no body at all).
const badBody = fc.oneof(
  fc.constantFrom('', '{', 'null', '[]', '{"replicas":-1}', '{"name":"other","image":"x"}', '{"subnet":"0.0.0.0/0"}', 'name: [', '{"__proto__":{"x":1}}'),
  fc.string({ maxLength: 200 }),
  fc.json({ maxDepth: 3 }),
)

function check (a: Answer | 'parked', what: string): void {
  if (a === 'parked') { seen.set(0, (seen.get(0) ?? 0) + 1); return }
  seen.set(a.status, (seen.get(a.status) ?? 0) + 1)
  if (a.status >= 500) throw new Error(`${what} → ${a.status} ${a.body.slice(0, 200)}`)
  if (a.status >= 400) {
    let parsed: { error?: { code?: unknown, message?: unknown } }
    try { parsed = JSON.parse(a.body) } catch { throw new Error(`${what} → ${a.status} with a non-JSON body: ${a.body.slice(0, 100)}`) }
    if (typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string') throw new Error(`${what} → ${a.status} without {error:{code,message}}`)
  }
}

t.test('every route: hostile params and queries give 4xx JSON, never 5xx, and write nothing', async (t) => {
  const before = await lastSeqs()
  const req = fc.record({
    route: fc.constantFrom(...ROUTES),
    seg: segment,
    q: query,
    token: fc.constantFrom('none', 'wrong', 'write'),
    body: badBody,
    ctype: fc.constantFrom('application/json', 'application/yaml', 'application/merge-patch+json', 'text/plain', 'application/x-www-form-urlencoded'),
  })
  await fc.assert(fc.asyncProperty(req, async (r) => {
    // The one existing service is only read with the token (a DELETE of it would be a legitimate write).
    const seg = r.token === 'write' && r.route.method !== 'GET' && r.seg === 'web' ? 'nope' : r.seg
    const path = r.route.path(seg) + r.q
    const headers: Record<string, string> = {}
    if (r.token === 'write') headers.authorization = `Bearer ${WRITE}`
    if (r.token === 'wrong') headers.authorization = 'Bearer not-the-token-x'
    if (r.route.body === true) headers['content-type'] = r.ctype
    // A write with the token and a valid name may legitimately succeed: only invalid bodies are sent then.
    const a = await send(r.route.method, path, headers, r.route.body === true ? r.body : undefined)
    check(a, `${r.route.method} ${path}`)
    // Without the token a write is 401 (or 404: no such route; or 400 DG_BAD_REQUEST: a URL the router cannot decode), never parsed.
    const badUrl = a !== 'parked' && a.status === 400 && a.body.includes('"DG_BAD_REQUEST"')
    if (r.route.method !== 'GET' && r.token !== 'write' && a !== 'parked' && a.status !== 401 && a.status !== 404 && !badUrl) {
      throw new Error(`${r.route.method} ${path} without the write token → ${a.status}`)
    }
  }), { seed: SEED, numRuns: RUNS, endOnFailure: true })
  const after = await lastSeqs()
  t.same(after, before, 'no bucket changed')
  t.equal((await send('GET', '/v1/services/web/endpoints', {}) as Answer).status, 200, 'still serving')
})
