// The renderer against a real nats-server and a real nginx (harness), with
// endpoint records written straight into KV and loopback backends.
import t from 'tap'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type KV, type NatsConnection } from 'nats'
import { startNats, startNginx, freePort, waitFor } from '../harness/index.js'
import { ensureBuckets, encodeJson, decodeJson } from '../../src/bus/index.js'
import { createLogger, silentLogger, type AppliedMessage } from '../../src/core/index.js'
import { createRenderer, builtinTemplatesDir, type Renderer } from '../../src/renderer/index.js'
import { ep, svc } from '../unit/renderer-fixtures.js'
import { closeBackendLan, exampleHttpBody, startBackend, get, type Backend } from './renderer-fixtures.js'

const nats = await startNats()
const out = mkdtempSync(join(tmpdir(), 'dg-render-out-'))
const templates = mkdtempSync(join(tmpdir(), 'dg-render-tpl-'))
cpSync(builtinTemplatesDir(), templates, { recursive: true })
// The operator's own upstream `legacy`: a service of that name would be a duplicate.
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody('\n  upstream legacy { server 127.0.0.1:9; }\n') })
const statusPort = await freePort()
const nc: NatsConnection = await connect({ servers: nats.url })
const kv = await ensureBuckets(nc)
const backends: Backend[] = await Promise.all(['b1', 'b2', 'b3'].map(async (n) => await startBackend(n)))
t.teardown(closeBackendLan)
const applied: AppliedMessage[] = []
const sub = nc.subscribe('driftgate.applied.edge1')
void (async () => { for await (const m of sub) { const d = decodeJson(m.data); if (d.ok) applied.push(d.value as AppliedMessage) } })()

let renderer: Renderer
t.teardown(async () => {
  await renderer?.close()
  sub.unsubscribe()
  await nc.close()
  await Promise.all(backends.map(async (b) => await b.close()))
  await nginx.stop()
  await nats.stop()
  rmSync(out, { recursive: true, force: true })
  rmSync(templates, { recursive: true, force: true })
})

const put = async (bucket: KV, [key, value]: [string, unknown]): Promise<void> => { await bucket.put(key, encodeJson(value)) }
const backendEp = (service: string, i: number, over = {}) => ep(service, i + 1, { ip: backends[i].host, port: backends[i].port, ...over })
const counter = async (name: string, labels = ''): Promise<number> => {
  const text = await renderer.registry.metrics()
  const m = new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, 'm').exec(text) ?? new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m == null ? 0 : Number(m[1])
}
const through = async (host: string) => await get(nginx.port, host)
/** Renderer idle and nginx's old workers gone (see NginxServer.settled). */
const settled = async (): Promise<void> => {
  await renderer.idle()
  await nginx.settled()
}

t.before(async () => {
  renderer = createRenderer({
    id: 'edge1', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`,
    nginxBin: '/usr/sbin/nginx', templates, statusPort, minWaitMs: 50, maxWaitMs: 1000,
    reloadTimeoutMs: 3000, announceIntervalMs: 60_000,
  }, { nc, log: process.env.DG_TEST_LOG != null ? createLogger({ level: 'debug' }) : silentLogger() })
  await renderer.start()
  await waitFor(() => renderer.generation > 0, { what: 'first reload' })
})

t.test('renders endpoints, reloads, serves them and announces the generation', async (t) => {
  await put(kv.services, svc('web', { method: 'least_conn', keepalive: 8 }))
  await put(kv.endpoints, backendEp('web', 0))
  await put(kv.endpoints, backendEp('web', 1))
  await waitFor(async () => (await through('web.example.com')).status === 200 &&
    renderer.applied?.containers.length === 2, { what: 'web served' })
  await settled()
  const seen = new Set<string>()
  for (let i = 0; i < 10; i++) seen.add((await through('web.example.com')).body.trim())
  t.same([...seen].sort(), ['b1', 'b2'])
  const text = readFileSync(join(out, 'web.conf'), 'utf8')
  t.match(text, `server ${backends[0].host}:${backends[0].port} weight=1`)
  t.match(text, 'least_conn;')
  await waitFor(() => applied.some((a) => a.generation === renderer.generation && a.containers?.length === 2 && a.count === 2), { what: 'applied message' })
  const last = applied[applied.length - 1]
  t.match(last, { v: 1, renderer: 'edge1', generation: renderer.generation })
  t.ok(last.endpointsRevision > 0)
  t.equal(await counter('driftgate_renderer_last_error', 'reason="rejected"'), 0)
})

t.test('file mode: an unknown or malformed Host gets 404 from nginx and is never proxied', async (t) => {
  const log = nginx.errorLog
  const before = readFileSync(log, 'utf8').length
  // before the fix, the first one was proxied to [::ffff:127.0.0.1]:80 (502 here: nothing listens)
  for (const host of ['[::ffff:127.0.0.1]', '127.0.0.1', '10.0.0.1', 'nosuch', 'nosuch.example.com', 'legacy']) {
    t.equal((await through(host)).status, 404, host)
  }
  t.notMatch(readFileSync(log, 'utf8').slice(before), /upstream|connect\(\)|resolve/, 'no proxy attempt logged')
  t.equal((await through('web')).status, 200)
  t.equal((await through('web.example.com')).status, 200)
})

t.test('an unchanged render never reloads', async (t) => {
  await renderer.idle()
  const gen = renderer.generation
  const reloads = await counter('driftgate_renderer_reloads_total', 'result="ok"')
  const renders = await counter('driftgate_renderer_renders_total')
  const before = applied.length
  // Changes that cannot alter the files do not even wake the renderer...
  await put(kv.endpoints, backendEp('web', 0)) // same content, new KV revision
  await put(kv.endpoints, backendEp('web', 1, { health: 'healthy', seq: 99 })) // routed the same
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(await counter('driftgate_renderer_renders_total'), renders, 'no render for irrelevant changes')
  // ...and one that changes the model but renders the same bytes renders without reloading.
  await put(kv.services, svc('web', { method: 'least_conn', keepalive: 8, maxFails: 1, failTimeout: '10s' }))
  await waitFor(async () => (await counter('driftgate_renderer_renders_total')) > renders, { what: 'a render' })
  await renderer.idle()
  t.equal(renderer.generation, gen)
  t.equal(await counter('driftgate_renderer_reloads_total', 'result="ok"'), reloads)
  await waitFor(() => applied.length > before, { what: 'applied re-announced' })
  t.equal(applied[applied.length - 1].generation, gen)
})

t.test('hostile records never reach a file', async (t) => {
  const gen = renderer.generation
  await kv.endpoints.put('evil.x', encodeJson({ ...backendEp('web', 2)[1], service: 'x;}server{listen 1' }))
  await kv.endpoints.put('web.y', encodeJson({ ...backendEp('web', 2)[1], ip: '127.0.0.1;\nserver 6.6.6.6:80' }))
  await kv.endpoints.put('web.z', new TextEncoder().encode('{not json'))
  await waitFor(async () => (await counter('driftgate_renderer_invalid_records_total')) >= 1 ||
    /invalid_records_total\{/.test(await renderer.registry.metrics()), { what: 'invalid counted' })
  await renderer.idle()
  t.equal(renderer.generation, gen, 'nothing to reload')
  for (const f of readdirSync(out)) {
    const text = readFileSync(join(out, f), 'utf8')
    t.notMatch(text, /listen 1\b|6\.6\.6\.6|server\{/, f)
  }
})

t.test('a service losing its last endpoint answers 503 and nginx stays reloadable', async (t) => {
  await put(kv.endpoints, backendEp('solo', 2))
  await waitFor(async () => (await through('solo')).body === 'b3\n', { what: 'solo served' })
  await put(kv.endpoints, backendEp('solo', 2, { state: 'draining' }))
  await waitFor(async () => (await through('solo')).status === 503, { what: 'solo 503' })
  await settled()
  const r = await through('solo')
  t.equal(r.body, 'no live endpoint for solo\n')
  t.ok(renderer.applied?.containers.includes(backendEp('solo', 2)[1].containerId) === false)
  await put(kv.endpoints, backendEp('solo', 2))
  await waitFor(async () => (await through('solo')).body === 'b3\n', { what: 'solo back' })
  t.ok((await nginx.test()).ok)
})

t.test('a service that would render invalid config is held back; others keep updating', async (t) => {
  const rejected = await counter('driftgate_renderer_rejected_total')
  const legacy = ep('legacy', 50, { ip: backends[0].host, port: backends[0].port })
  await put(kv.endpoints, legacy) // duplicate upstream "legacy"
  await waitFor(async () => (await counter('driftgate_renderer_rejected_total')) > rejected, { what: 'rejection' })
  await renderer.idle()
  t.same(renderer.status().heldBack, ['legacy.conf'])
  t.notOk(renderer.applied?.containers.includes(legacy[1].containerId), 'a held-back service is not announced as routed')
  t.notOk(readdirSync(out).includes('legacy.conf'), 'the refused file was removed again')
  t.equal(await counter('driftgate_renderer_last_error', 'reason="rejected"'), 1)
  // other services still converge
  await put(kv.endpoints, backendEp('web', 2))
  await waitFor(async () => {
    const seen = new Set<string>()
    for (let i = 0; i < 9; i++) seen.add((await through('web.example.com')).body.trim())
    return seen.has('b3')
  }, { what: 'web gets b3' })
  t.ok((await nginx.test()).ok)
  // removing the culprit clears the hold
  await kv.endpoints.delete(legacy[0])
  await waitFor(() => renderer.status().heldBack.length === 0 && renderer.lastError == null, { what: 'hold cleared' })
})

t.test('an invalid template leaves nginx serving the previous config; fixing it recovers without restart', async (t) => {
  const pid = nginx.pid()
  const gen = renderer.generation
  const path = join(templates, 'upstream.conf.njk')
  const good = readFileSync(path, 'utf8')
  // 1: a template nunjucks cannot compile
  writeFileSync(path, good.replace('{% endfor %}', ''))
  await waitFor(() => renderer.lastError != null, { what: 'template error reported' })
  t.match(renderer.lastError, /template/)
  t.equal(await counter('driftgate_renderer_last_error', 'reason="template"'), 1)
  t.equal((await through('web.example.com')).status, 200)
  // 2: a template that renders config nginx -t refuses
  writeFileSync(path, good.replace('upstream {{', 'bogus_directive on;\nupstream {{'))
  await waitFor(async () => (await counter('driftgate_renderer_last_error', 'reason="rejected"')) === 1, { what: 'nginx -t rejection' })
  await renderer.idle()
  t.equal(renderer.generation, gen)
  t.notMatch(readdirSync(out).map((f) => readFileSync(join(out, f), 'utf8')).join(''), /bogus_directive/)
  t.equal((await through('web.example.com')).status, 200)
  // fixed: picked up by the watch, no restart
  writeFileSync(path, good.replace('# service', '# fixed service'))
  await waitFor(() => renderer.generation > gen && renderer.lastError == null, { what: 'recovery' })
  t.match(readFileSync(join(out, 'web.conf'), 'utf8'), '# fixed service')
  t.equal(nginx.pid(), pid)
  t.equal(await counter('driftgate_renderer_last_error', 'reason="template"'), 0)
  t.equal((await through('web.example.com')).status, 200)
})

t.test('a reload nginx silently refuses is reported as failed and rolled back', async (t) => {
  const busy = createServer()
  const busyPort = await freePort()
  await new Promise<void>((resolve) => busy.listen(busyPort, '127.0.0.1', () => resolve()))
  t.teardown(() => { busy.close() })
  const path = join(templates, 'driftgate.conf.njk')
  const good = readFileSync(path, 'utf8')
  const failed = await counter('driftgate_renderer_reloads_total', 'result="failed"')
  const gen = renderer.generation
  // nginx -t does not bind: only the reload finds the port taken
  writeFileSync(path, `${good}\nserver { listen 127.0.0.1:${busyPort}; return 200; }\n`)
  await waitFor(async () => (await counter('driftgate_renderer_reloads_total', 'result="failed"')) > failed,
    { what: 'reload failure', timeoutMs: 20_000 })
  t.equal(await counter('driftgate_renderer_last_error', 'reason="reload"'), 1)
  t.equal(renderer.generation, gen)
  t.equal(Number((await get(statusPort, 'x', '/driftgate/generation')).body), gen, 'nginx still on the old generation')
  // rolled back (a retry with backoff rewrites it later: nginx may come back)
  await waitFor(() => !readFileSync(join(out, '_driftgate.conf'), 'utf8').includes(String(busyPort)), { what: 'files rolled back' })
  writeFileSync(path, good)
  await waitFor(() => renderer.generation > gen && renderer.lastError == null, { what: 'recovery', timeoutMs: 20_000 })
  t.equal((await through('web.example.com')).status, 200)
})
