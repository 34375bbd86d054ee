// Service load stats end to end with real daemons: nginx with the Lua module
// counts, a lua-mode renderer publishes its counters on NATS every 250 ms,
// a registry (default components: the stats routes on its API) turns them
// into rates. The numbers must match the requests sent: 200 through a live
// service, 50 through one whose only backend is dead (each one an upstream
// error), and a forged report is refused and counted.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { startNats, startNginx, freePort, waitFor } from '../harness/index.js'
import { ensureBuckets, encodeJson, decodeJson } from '../../src/bus/index.js'
import { silentLogger, type RendererStatsMessage } from '../../src/core/index.js'
import { createRenderer, type Renderer } from '../../src/renderer/index.js'
import { createRegistry, resolveRegistryConfig, type ServiceRate } from '../../src/registry/index.js'
import { ep, svc } from '../unit/renderer-fixtures.js'
import { closeBackendLan, exampleHttpBody, startBackend, get, type Backend } from './renderer-fixtures.js'

const log = silentLogger()
const nats = await startNats()
const out = mkdtempSync(join(tmpdir(), 'dg-lua-stats-out-'))
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: true })
const nc: NatsConnection = await connect({ servers: nats.url })
const kv = await ensureBuckets(nc)
const backends: Backend[] = await Promise.all(['b1', 'b2'].map(async (n) => await startBackend(n)))
const httpPort = await freePort()
const api = `http://127.0.0.1:${httpPort}`
const registry = createRegistry(resolveRegistryConfig({ nats: nats.url, httpPort, httpHost: '127.0.0.1', dnsPort: await freePort(), placement: false, statsWindow: '60s' }), { nc, log })
let renderer: Renderer | undefined
t.teardown(async () => {
  await renderer?.close()
  await registry.close()
  await nc.close()
  await Promise.all(backends.map(async (b) => await b.close()))
  await closeBackendLan()
  await nginx.stop()
  await nats.stop()
  rmSync(out, { recursive: true, force: true })
})

// Every report as published, to compare with what the registry computes.
const reports: RendererStatsMessage[] = []
const sub = nc.subscribe('driftgate.stats.renderer.*', {
  callback: (_e, m) => { const d = decodeJson(m.data); if (d.ok) reports.push(d.value as RendererStatsMessage) },
})
t.teardown(() => { sub.unsubscribe() })
const lastCount = (service: string): [number, number] | undefined => {
  const c = reports.filter((r) => r.renderer === 'edge1').at(-1)?.services[service]
  return c === undefined ? undefined : [c.requests, c.errors]
}
const rate = (service: string): ServiceRate | undefined => registry.load?.rate(service)
const put = async ([key, value]: [string, unknown], bucket = kv.endpoints): Promise<void> => { await bucket.put(key, encodeJson(value)) }
/** `n` GETs with Host `host`, 10 at a time; their statuses. */
const send = async (host: string, n: number): Promise<number[]> => {
  const statuses: number[] = []
  for (let i = 0; i < n; i += 10) statuses.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, async () => (await get(nginx.port, host)).status))))
  return statuses
}
/** Waits until the renderer's reports stop moving for `service` (nginx counts in its log phase, after the answer). */
const settled = async (service: string): Promise<[number, number]> => {
  let seen = ''
  let same = 0
  await waitFor(() => {
    const now = JSON.stringify(lastCount(service) ?? null)
    same = now === seen ? same + 1 : 0
    seen = now
    return same >= 3 && now !== 'null'
  }, { timeoutMs: 15_000, intervalMs: 300, what: `${service} counters settled` })
  return lastCount(service)!
}

t.before(async () => {
  await registry.start()
  renderer = createRenderer({
    id: 'edge1', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort: await freePort(), minWaitMs: 5, maxWaitMs: 200, mode: 'lua', reloadTimeoutMs: 5000, announceIntervalMs: 60_000, statsIntervalMs: 250,
  }, { nc, log })
  await renderer.start()
  await put(svc('web'), kv.services)
  await put(svc('dead', { maxFails: 0 }), kv.services)
  await put(ep('web', 1, { ip: backends[0].host, port: backends[0].port }))
  await put(ep('web', 2, { ip: backends[1].host, port: backends[1].port }))
  await put(ep('dead', 3, { ip: backends[0].host, port: await freePort() })) // nothing listens there
  await waitFor(() => renderer?.applied?.containers.length === 3, { timeoutMs: 15_000, what: '3 endpoints routed' })
  // a new service's upstream exists after its reload: until then its Host is 404
  await waitFor(async () => (await get(nginx.port, 'web')).status === 200 && (await get(nginx.port, 'dead')).status === 502,
    { timeoutMs: 15_000, what: 'web and dead served' })
  // an old worker (config without web) may still accept a connection or two
  // after the new one answered: the full run saw the warm-up request get 404
  await nginx.settled()
})

t.test('200 requests through web: the reports and the registry\'s rate count exactly 200', async (t) => {
  t.same(await send('web', 1), [200], 'warm-up request answered') // creates r:web in the dict
  const [before] = await settled('web')
  await waitFor(() => rate('web') !== undefined, { timeoutMs: 10_000, what: 'a rate for web' })
  const base = rate('web')!
  const hits0 = backends[0].hits + backends[1].hits
  const t0 = Date.now()
  const statuses = await send('web', 200)
  const sendMs = Date.now() - t0
  t.ok(statuses.every((s) => s === 200), 'every request answered 200')
  const [after, errors] = await settled('web')
  t.equal(after - before, 200, 'the renderer reported 200 more requests')
  t.equal(errors, 0, 'no upstream error')
  t.equal(backends[0].hits + backends[1].hits - hits0, 200, 'the backends saw the same 200')
  await waitFor(() => rate('web')!.requests === base.requests + 200, { timeoutMs: 5000, what: 'the registry counted 200 more' })
  const r = rate('web')!
  t.equal(r.renderers, 1)
  t.equal(r.errorsPerSec, 0)
  t.ok(r.requestsPerSec > 0, `requests/s ${r.requestsPerSec.toFixed(1)} over the 60 s window (200 sent in ${sendMs} ms)`)
  t.comment(`web: ${r.requests} requests in the window, ${r.requestsPerSec.toFixed(2)}/s`)
})

t.test('50 requests to a dead backend: 50 upstream errors', async (t) => {
  t.ok((await send('dead', 1)).every((s) => s === 502), 'warm-up: 502')
  const [req0, err0] = await settled('dead')
  await waitFor(() => rate('dead') !== undefined, { timeoutMs: 10_000, what: 'a rate for dead' })
  const base = rate('dead')!
  const statuses = await send('dead', 50)
  t.ok(statuses.every((s) => s === 502), 'every request 502 (no live peer)')
  const [req1, err1] = await settled('dead')
  t.equal(req1 - req0, 50, '50 requests reported')
  t.equal(err1 - err0, 50, '50 upstream errors reported (one failed try each)')
  await waitFor(() => rate('dead')!.errors === base.errors + 50, { timeoutMs: 5000, what: 'the registry counted 50 more errors' })
  t.ok(rate('dead')!.errorsPerSec > 0, `errors/s ${rate('dead')!.errorsPerSec.toFixed(2)}`)
})

t.test('HTTP: GET /v1/stats/services[/<name>], blocking on the next report; Prometheus gauges', async (t) => {
  const all = await (await fetch(`${api}/v1/stats/services`)).json() as { index: number, renderers: string[], services: Record<string, ServiceRate> }
  t.same(all.renderers, ['edge1'])
  t.ok(all.services.web.requests >= 200 && all.services.dead.errors >= 50, 'both services listed')
  const one = await (await fetch(`${api}/v1/stats/services/web`)).json() as { index: number, load: ServiceRate }
  t.ok(one.load.requestsPerSec > 0)
  const none = await (await fetch(`${api}/v1/stats/services/nothing`)).json() as { service: string, load: unknown, renderers: string[] }
  t.match(none, { service: 'nothing', load: null, renderers: ['edge1'] }, 'a service nobody counts: load null, the reporting renderers listed')
  const t0 = Date.now()
  const next = await (await fetch(`${api}/v1/stats/services/web?index=${one.index}&wait=10s`)).json() as { index: number }
  const waited = Date.now() - t0
  t.ok(next.index > one.index && waited < 2000, `parked until the next report (${waited} ms)`)
  t.equal((await fetch(`${api}/v1/stats/services/Bad_Name`)).status, 400, 'a bad name is refused')
  const metrics = await (await fetch(`${api}/metrics`)).text()
  t.match(metrics, /driftgate_registry_service_requests_per_second\{service="web"[^}]*\} [1-9][0-9.e+-]*$/m)
  t.match(metrics, /driftgate_registry_service_upstream_errors_per_second\{service="dead"[^}]*\} [1-9][0-9.e+-]*$/m)
})

t.test('a report naming another renderer than its subject is refused and counted', async (t) => {
  const forged: RendererStatsMessage = { v: 1, renderer: 'edge2', boot: 'x', at: Date.now(), services: { web: { requests: 1e9, errors: 0 } } }
  nc.publish('driftgate.stats.renderer.edge1', encodeJson(forged))
  nc.publish('driftgate.stats.renderer.edge2', encodeJson({ ...forged, services: { web: { requests: -5, errors: 0 } } }))
  await nc.flush()
  const counted = async (): Promise<string> => await registry.metrics.metrics()
  await waitFor(async () => /driftgate_registry_stats_reports_total\{result="renderer_mismatch"[^}]*\} 1$/m.test(await counted()), { timeoutMs: 5000, what: 'mismatch counted' })
  t.match(await counted(), /driftgate_registry_stats_reports_total\{result="schema"[^}]*\} 1$/m, 'a negative counter refused')
  t.same(registry.load?.renderers(), ['edge1'], 'edge2 never counted')
  t.ok(rate('web')!.requestsPerSec < 1e6, 'the forged counter did not reach the rate')
})

t.test('the renderer stops reporting: it drops out after 3 of its intervals', async (t) => {
  await renderer?.close()
  await waitFor(() => rate('web') === undefined, { timeoutMs: 3000, what: 'web has no data' })
  t.same(registry.load?.renderers(), [])
})
