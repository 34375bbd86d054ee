// Edge routes (issue 16) end to end on one machine: specs through the real
// registry API (and endpoint records with route labels written into KV, as
// the registry's ingest would), the renderer in lua mode, a real nginx, and
// backends on a testbed LAN gateway that echo their name and the path they got.
import t from 'tap'
import { existsSync, readdirSync, readFileSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { Registry } from 'prom-client'
import { startNats, startNginx, freePort, waitFor } from '../harness/index.js'
import { ensureBuckets, encodeJson } from '../../src/bus/index.js'
import { createLogger, silentLogger, type EndpointRecord, type RouteSpec, type ServiceRecord } from '../../src/core/index.js'
import { startLookup } from '../../src/registry/lookup/index.js'
import { serviceRoutes } from '../../src/placement/routes.js'
import { createRenderer, buildModel, TemplateSet, builtinTemplatesDir, type Renderer } from '../../src/renderer/index.js'
import { buildRoutes } from '../../src/renderer/routes.js'
import { labelsByContainer, serversContext } from '../../src/renderer/route-view.js'
import { ep, svc } from '../unit/renderer-fixtures.js'
import { backendAddress, closeBackendLan, exampleHttpBody, get } from './renderer-fixtures.js'

const TOKEN = 'test-token-routes'
const nats = await startNats()
const out = mkdtempSync(join(tmpdir(), 'dg-routes-out-'))
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: true })
const nc: NatsConnection = await connect({ servers: nats.url })
const kv = await ensureBuckets(nc)
const lookup = await startLookup({
  nc, kv: { endpoints: kv.endpoints, hosts: kv.hosts, services: kv.services }, log: silentLogger(), metrics: new Registry(),
  config: { httpPort: 0, httpHost: '127.0.0.1', dnsPort: 0, dnsHost: '127.0.0.1', apiToken: [TOKEN] },
  plugins: [serviceRoutes({ kv, log: silentLogger() })],
})
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

// one echo backend per service: "<name> <path it received>"
const lan = await backendAddress()
const servers: Server[] = []
const backends = new Map<string, number>()
for (const name of ['shop', 'api', 'wild', 'multi', 'blog', 'rival', 'one', 'two']) {
  const s = createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} ${req.url ?? ''}\n`) })
  await new Promise<void>((resolve) => s.listen(0, lan, () => resolve()))
  servers.push(s)
  backends.set(name, (s.address() as { port: number }).port)
}

let renderer: Renderer
t.teardown(async () => {
  await renderer?.close()
  await lookup.close()
  await nc.close()
  for (const s of servers) { s.closeAllConnections(); await new Promise((resolve) => s.close(resolve)) }
  await closeBackendLan()
  await nginx.stop()
  await nats.stop()
  rmSync(out, { recursive: true, force: true })
})

const endpoint = (name: string, n: number, over: Partial<EndpointRecord> = {}): Promise<unknown> => {
  const [key, rec] = ep(name, n, { ip: lan, port: backends.get(name) as number, ...over })
  return kv.endpoints.put(key, encodeJson(rec))
}
const apply = async (name: string, routes: RouteSpec[] | undefined) => await lookup.api.inject({
  method: 'PUT', url: `/v1/services/${name}`, headers,
  payload: { name, image: 'img', replicas: 0, port: 80, network: 'mv0', ...(routes !== undefined ? { routes } : {}) },
})
const via = async (host: string, path = '/') => {
  const r = await get(nginx.port, host, path)
  return `${r.status} ${r.body.trim()}`
}
const metric = async (name: string): Promise<number> => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(await renderer.registry.metrics())?.[1] ?? NaN)
const confText = (): string => readdirSync(out).map((f) => readFileSync(join(out, f), 'utf8')).join('\n')

t.before(async () => {
  renderer = createRenderer({
    id: 'edge1', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort: await freePort(), minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 5000, announceIntervalMs: 60_000, mode: 'lua',
    httpListen: `127.0.0.1:${nginx.port}`, hostPrefix: false,
  }, { nc, log: process.env.DG_TEST_LOG != null ? createLogger({ level: 'debug' }) : silentLogger() })
  await renderer.start()
  await waitFor(() => renderer.generation > 0, { what: 'first reload' })
})

t.test('hosts and paths route as specified; unclaimed hosts and paths get 404 from nginx', async (t) => {
  for (const [name, routes] of Object.entries<RouteSpec[]>({
    shop: [{ host: 'a.test' }],
    api: [{ host: 'A.Test', path: '/api', stripPrefix: true }],
    wild: [{ host: '*.wild.test' }],
    multi: [{ host: 'x.test' }, { host: 'y.test', path: '/y' }],
  })) t.equal((await apply(name, routes)).statusCode, 201, name)
  await Promise.all(['shop', 'api', 'wild', 'multi'].map(async (n, i) => await endpoint(n, i + 1)))
  // a container not started by placement: route labels
  await endpoint('blog', 5, { hosts: ['b.test', 'www.b.test'], path: '/blog' })
  await waitFor(async () => (await via('b.test', '/blog/p')) === '200 blog /blog/p', { what: 'routes served' })
  await renderer.idle(); await nginx.settled()
  const before = readFileSync(nginx.errorLog, 'utf8').length
  const cases: Array<[string, string, string]> = [
    ['a.test', '/', '200 shop /'],
    ['a.test', '/x?q=1', '200 shop /x?q=1'],
    ['A.TEST', '/', '200 shop /'],
    ['a.test', '/api', '200 api /'], // stripPrefix
    ['a.test', '/api/v1/items?q=2', '200 api /v1/items?q=2'],
    ['a.test', '/apix', '200 shop /apix'], // a prefix is a path segment, not a string prefix
    ['foo.wild.test', '/z', '200 wild /z'],
    ['a.b.wild.test', '/', '200 wild /'],
    ['x.test', '/', '200 multi /'],
    ['y.test', '/y/1', '200 multi /y/1'],
    ['www.b.test', '/blog', '200 blog /blog'],
  ]
  for (const [host, path, want] of cases) t.equal(await via(host, path), want, `${host}${path}`)
  // 404 from nginx itself: no route claims them; nothing is proxied
  for (const [host, path] of [['wild.test', '/'], ['y.test', '/'], ['b.test', '/'], ['b.test', '/blogger'], ['nosuch.test', '/'],
    ['shop', '/'], ['shop.a.test', '/'], ['127.0.0.1', '/'], ['10.0.0.1', '/'], ['[::1]', '/'], [`${lan}`, '/']]) {
    const r = await get(nginx.port, host, path)
    t.equal(r.status, 404, `${host}${path}`)
    t.match(r.body, /nginx/, 'nginx\'s own 404 page')
  }
  t.notMatch(readFileSync(nginx.errorLog, 'utf8').slice(before), /upstream|connect\(\)/, 'no proxy attempt logged')
  t.equal(await metric('driftgate_renderer_route_hosts'), 6, 'a.test *.wild.test x.test y.test b.test www.b.test')
})

t.test('conflicts: a spec is refused naming the other service; a label claim is skipped, counted and never wins by arrival', async (t) => {
  const r = await apply('rival', [{ host: 'a.test', path: '/api' }])
  t.equal(r.statusCode, 409)
  t.match(r.json().error, { code: 'DG_ROUTE_CONFLICT', message: /already routed to service "api"/ })
  t.equal((await kv.services.get('rival'))?.operation ?? null, null, 'nothing written')
  // a later label claim on a spec'd route: skipped
  await endpoint('rival', 6, { hosts: ['a.test'], path: '/api' })
  // and two label claims on one free host: the smaller name wins whichever came first
  await endpoint('rival', 7, { hosts: ['c.test'] })
  await endpoint('blog', 8, { hosts: ['c.test'] })
  await waitFor(async () => (await metric('driftgate_renderer_route_conflicts')) === 2, { what: 'conflicts counted' })
  await renderer.idle(); await nginx.settled()
  t.equal(await via('a.test', '/api/v1'), '200 api /v1')
  t.equal(await via('c.test'), '200 blog /')
  t.match(readFileSync(join(out, '_driftgate.servers.conf'), 'utf8'), '# skipped: a.test /api of rival (label): kept by api (spec)')
})

t.test('hostile hosts and paths via the API and labels are refused and never reach nginx.conf', async (t) => {
  for (const route of [{ host: 'evil.test;}server{listen 1' }, { host: 'ok.test', path: '/a b' }, { host: 'ok.test', path: '/../x' },
    { host: 'ok.test', path: '/$uri' }, { host: '10.1.2.3' }, { host: 'ok.test\nlisten 81' }, { host: 'ok.test', path: "/a'b" }]) {
    const r = await apply('evil', [route])
    t.equal(r.statusCode, 400, JSON.stringify(route))
    t.equal(r.json().error.code, 'DG_VALIDATION')
  }
  // label fields that an agent would refuse, written straight into KV: the record is dropped whole
  await kv.endpoints.put(`evil.${'e'.repeat(64)}`, encodeJson({ ...ep('evil', 9)[1], containerId: 'e'.repeat(64), hosts: ['h.test;}server{listen 1'] }))
  await kv.endpoints.put(`evil.${'f'.repeat(64)}`, encodeJson({ ...ep('evil', 10)[1], containerId: 'f'.repeat(64), hosts: ['h.test'], path: '/a{' }))
  await waitFor(async () => /invalid_records_total\{reason="endpoint_/.test(await renderer.registry.metrics()), { what: 'invalid counted' })
  await renderer.idle()
  t.notMatch(confText(), /evil|listen 1;|listen 81|\/a b|\$uri|10\.1\.2\.3|\/a\{|h\.test/)
})

t.test('a label-routed container removed (tombstone): its route answers 503, not 404, and nothing reloads', async (t) => {
  await renderer.idle()
  const reloads = (await renderer.registry.metrics()).match(/driftgate_renderer_reloads_total\{[^}]*\} \d+/g)?.join()
  // both of blog's containers go (5: b.test/blog, 8: c.test)
  const gone: Array<[number, Partial<EndpointRecord>]> = [[5, { hosts: ['b.test', 'www.b.test'], path: '/blog' }], [8, { hosts: ['c.test'] }]]
  for (const [n, over] of gone) {
    const [key, rec] = ep('blog', n, { ip: lan, port: backends.get('blog') as number, ...over })
    await kv.endpoints.put(key, encodeJson({ ...rec, removed: true, seq: 99 }))
  }
  await waitFor(async () => (await get(nginx.port, 'www.b.test', '/blog')).status === 503, { what: 'blog 503' })
  t.equal((await get(nginx.port, 'c.test', '/')).status, 503)
  await renderer.idle()
  t.equal((await renderer.registry.metrics()).match(/driftgate_renderer_reloads_total\{[^}]*\} \d+/g)?.join(), reloads, 'a push, not a reload')
})

t.test('moving a route from one service to another under load: 0 failed requests', async (t) => {
  await endpoint('one', 11)
  await endpoint('two', 12)
  const rec = (name: string, routes: RouteSpec[]) => encodeJson({
    v: 1, version: 1, updatedAt: Date.now(), spec: { name, image: 'img', replicas: 0, port: 80, network: 'mv0', resources: {}, env: {}, upstream: {}, placement: {}, routes },
  })
  await kv.services.put('one', rec('one', [{ host: 'm.test' }]))
  await kv.services.put('two', rec('two', []))
  await waitFor(async () => (await via('m.test')) === '200 one /', { what: 'm.test on one' })
  await renderer.idle(); await nginx.settled()
  let stop = false
  const seen = new Map<string, number>()
  const loop = async (): Promise<void> => {
    for (let i = 0; i < 5000 && !stop; i++) {
      const r = await via('m.test', '/')
      seen.set(r, (seen.get(r) ?? 0) + 1)
    }
  }
  const clients = Promise.all([loop(), loop(), loop(), loop()])
  const moves = renderer.generation
  // the new claim first (two overlaps one: the smaller name, one, keeps it), then the old one goes
  await kv.services.put('two', rec('two', [{ host: 'm.test' }]))
  await new Promise((resolve) => setTimeout(resolve, 300))
  await kv.services.put('one', rec('one', []))
  await waitFor(async () => (await via('m.test')) === '200 two /', { what: 'm.test on two' })
  await new Promise((resolve) => setTimeout(resolve, 300))
  stop = true
  await clients
  t.ok(renderer.generation > moves, 'route changes reloaded nginx (lua mode)')
  t.match(await renderer.registry.metrics(), /driftgate_renderer_reloads_total\{[^}]*cause="routes"[^}]*\} [1-9]/, 'counted with cause="routes"')
  t.same([...seen.keys()].filter((k) => k !== '200 one /' && k !== '200 two /'), [], `only one or two answered: ${JSON.stringify([...seen])}`)
  t.ok((seen.get('200 one /') ?? 0) > 0 && (seen.get('200 two /') ?? 0) > 0, 'both answered during the move')
})

const headGet = (nginx: { port: number }, host: string, path: string): Promise<{ status: number, route?: string, body: string }> => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port: nginx.port, path, headers: { host }, agent: false }, (res) => {
    let body = ''
    res.on('data', (c: Buffer) => { body += c.toString() })
    res.on('end', () => resolve({ status: res.statusCode ?? 0, route: res.headers['x-driftgate-route'] as string | undefined, body }))
  })
  req.on('error', reject)
  req.end()
})

t.test('the example template (templates/examples) renders, passes nginx -t and adds what the bundled one does not', async (t) => {
  const exOut = mkdtempSync(join(tmpdir(), 'dg-example-out-'))
  const nginx = await startNginx({ includeDir: exOut, conf: exampleHttpBody() })
  t.teardown(async () => { await nginx.stop(); rmSync(exOut, { recursive: true, force: true }) })
  const shop = { host: lan, port: backends.get('shop') as number }
  const blog = { host: lan, port: backends.get('blog') as number }
  const [k, rec] = svc('shop')
  const services: Array<[string, ServiceRecord]> = [[k, { ...rec, spec: { ...rec.spec, routes: [{ host: 'a.test' }] } }]]
  const endpoints = [ep('shop', 1, { ip: shop.host, port: shop.port }), ep('blog', 2, { ip: blog.host, port: blog.port, hosts: ['a.test'], path: '/blog' })]
  const { model } = buildModel(endpoints, services)
  const table = buildRoutes(services.map(([, r]) => r), endpoints.map(([, e]) => e))
  const ctx = serversContext(model, table, labelsByContainer(endpoints.map(([, e]) => e)),
    { listen: `127.0.0.1:${nginx.port}`, listenTls: '443', hostPrefix: false, statusPort: 8597 })
  const set = new TemplateSet([join(builtinTemplatesDir(), 'examples'), builtinTemplatesDir()], 'file')
  for (const [name, text] of set.renderServices(model, 8597, ctx)) writeFileSync(join(exOut, name), text)
  const test = await nginx.test()
  t.ok(test.ok, test.output)
  await nginx.reload()
  const a = await headGet(nginx, 'a.test', '/')
  t.match(a, { status: 200, route: 'shop /', body: 'shop /\n' })
  const b = await headGet(nginx, 'a.test', '/blog/x')
  t.match(b, { status: 200, route: 'blog /blog', body: 'blog /blog/x\n' })
  t.equal((await headGet(nginx, 'nosuch.test', '/')).status, 404)
  const log = join(nginx.prefix, 'logs', 'driftgate-blog.log')
  await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('/blog/x'), { what: 'per-service access log' })
  const line = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop() ?? '{}') as Record<string, unknown>
  t.match(line, { host: 'a.test', uri: '/blog/x', upstream: `${blog.host}:${blog.port}`, status: 200 })
  t.notOk(readFileSync(join(nginx.prefix, 'logs', 'driftgate-shop.log'), 'utf8').includes('/blog/x'), 'one log per service')
})
