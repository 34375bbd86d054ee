// The agent's own HTTP health checks (issue 19): the state machine as a
// table, the labels, the precedence over Docker's health in an endpoint, the
// prober against a real local HTTP server, and the monitor's transitions.
import t from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { initialState, step, type CheckState } from '../../src/agent/health/state.js'
import { parseHealthLabels, healthLabelsOf } from '../../src/agent/health/labels.js'
import { probeHttp } from '../../src/agent/health/prober.js'
import { HealthMonitor } from '../../src/agent/health/monitor.js'
import { classifyContainer } from '../../src/agent/docker/endpoint.js'
import { parseLabels } from '../../src/agent/docker/labels.js'
import { silentLogger, checkServiceSpec, type Health } from '../../src/core/index.js'

t.test('state machine table', async (t) => {
  const policy = { retries: 3, startPeriodMs: 10_000 }
  // Each row: probe results at times (ms after start) → health after each.
  const rows: Array<{ desc: string, probes: Array<[number, boolean]>, expect: string[] }> = [
    { desc: 'a first pass is healthy at once, even in the start period', probes: [[0, true]], expect: ['healthy'] },
    { desc: 'failures in the start period do not count', probes: [[0, false], [5000, false], [9000, false]], expect: ['starting', 'starting', 'starting'] },
    { desc: 'after the start period, retries failures make it unhealthy', probes: [[10_000, false], [11_000, false], [12_000, false]], expect: ['starting', 'starting', 'unhealthy'] },
    { desc: 'healthy, then retries failures (in the start period too): unhealthy', probes: [[0, true], [1000, false], [2000, false], [3000, false]], expect: ['healthy', 'healthy', 'healthy', 'unhealthy'] },
    { desc: 'a pass resets the count: flapping never turns unhealthy', probes: [[0, true], [1000, false], [2000, false], [3000, true], [4000, false], [5000, false]], expect: ['healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'healthy'] },
    { desc: 'unhealthy recovers on one pass', probes: [[20_000, false], [21_000, false], [22_000, false], [23_000, true]], expect: ['starting', 'starting', 'unhealthy', 'healthy'] },
  ]
  for (const row of rows) {
    let s: CheckState = initialState(0)
    const got = row.probes.map(([at, ok]) => { s = step(s, ok, at, policy); return s.health })
    t.same(got, row.expect, row.desc)
  }
  const one = step(step(initialState(0), true, 0, { retries: 1, startPeriodMs: 0 }), false, 100, { retries: 1, startPeriodMs: 0 }, 'HTTP 503')
  t.same([one.health, one.last?.detail], ['unhealthy', 'HTTP 503'], 'retries 1: one failure is enough')
})

t.test('health labels', async (t) => {
  t.same(parseHealthLabels({}), { ok: true })
  t.same(parseHealthLabels({ 'driftgate.health.http': '/healthz' }),
    { ok: true, check: { path: '/healthz', intervalMs: 5000, timeoutMs: 2000, retries: 3, startPeriodMs: 10_000 } }, 'defaults')
  t.same(parseHealthLabels({ 'driftgate.health.http': '/h?x=1', 'driftgate.health.interval': '1s', 'driftgate.health.timeout': '5s', 'driftgate.health.port': '8081', 'driftgate.health.retries': '1', 'driftgate.health.start-period': '0s' }),
    { ok: true, check: { path: '/h?x=1', intervalMs: 1000, timeoutMs: 1000, retries: 1, startPeriodMs: 0, port: 8081 } }, 'timeout capped at the interval')
  t.equal(parseHealthLabels({ 'driftgate.health.http': '/h', 'driftgate.health.interval': '10ms' }).ok && (parseHealthLabels({ 'driftgate.health.http': '/h', 'driftgate.health.interval': '10ms' }) as { check: { intervalMs: number } }).check.intervalMs, 100, 'at most every 100ms')
  for (const [label, value] of [['http', 'healthz'], ['http', '/a b'], ['http', '/x;}server{'], ['interval', '5'], ['interval', '2h'], ['timeout', 'soon'],
    ['retries', '0'], ['retries', '101'], ['retries', '1e2'], ['port', '0'], ['port', '65536'], ['start-period', '-1s']]) {
    const labels = { 'driftgate.health.http': '/ok', [`driftgate.health.${label}`]: value }
    const r = parseHealthLabels(labels)
    t.equal(r.ok, false, `driftgate.health.${label}=${value} refused`)
    const p = parseLabels({ 'driftgate.service': 'web', ...labels })
    t.match(p, { ok: false, reason: 'invalid_health', service: 'web' }, 'and the container is rejected with a clear reason')
  }
  const spec = checkServiceSpec({ name: 'web', image: 'x:1', replicas: 1, port: 80, network: 'mv0', health: { http: '/healthz', port: 81, interval: '2s', retries: 1 } })
  const back = parseHealthLabels(healthLabelsOf(spec.health))
  t.same(back, { ok: true, check: { path: '/healthz', port: 81, intervalMs: 2000, timeoutMs: 2000, retries: 1, startPeriodMs: 10_000 } }, 'a spec round-trips through its labels')
})

t.test('the agent\'s verdict wins over Docker\'s when the container has a check', async (t) => {
  const ID = 'a'.repeat(64)
  const base = {
    Id: ID, Name: '/web-1',
    State: { Running: true, Health: { Status: 'healthy' } },
    NetworkSettings: { Networks: { mv0: { NetworkID: 'n', IPAddress: '10.240.1.10', MacAddress: '02:42:0a:f0:01:0a' } } },
  }
  const ctx = (h?: Health) => ({ macvlan: new Set(['n']), healthOf: () => h })
  const withCheck = { ...base, Config: { Labels: { 'driftgate.service': 'web', 'driftgate.health.http': '/healthz' } } }
  const without = { ...base, Config: { Labels: { 'driftgate.service': 'web' } } }
  t.match(classifyContainer(withCheck, ctx('unhealthy')), { kind: 'endpoint', endpoint: { health: 'unhealthy' }, check: { path: '/healthz' } })
  t.match(classifyContainer(withCheck, ctx(undefined)), { kind: 'endpoint', endpoint: { health: 'starting' } }, 'not probed yet: starting')
  const plain = classifyContainer(without, ctx('unhealthy'))
  t.match(plain, { kind: 'endpoint', endpoint: { health: 'healthy' } }, 'no check label: Docker\'s health')
  t.notOk((plain as { check?: unknown }).check)
})

async function server (handler: (path: string) => number | 'hang'): Promise<{ port: number, close: () => Promise<void>, srv: Server }> {
  const srv = createServer((req, res) => {
    const r = handler(req.url ?? '/')
    if (r === 'hang') return
    res.writeHead(r, { 'content-type': 'text/plain' }).end('x'.repeat(100))
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  return { port: (srv.address() as AddressInfo).port, srv, close: async () => { srv.closeAllConnections(); await new Promise<void>((resolve) => srv.close(() => resolve())) } }
}

t.test('prober: 2xx/3xx pass; 4xx/5xx, refused and timeout fail', async (t) => {
  const s = await server((p) => (p === '/ok' ? 200 : p === '/moved' ? 302 : p === '/hang' ? 'hang' : p === '/missing' ? 404 : 503))
  t.teardown(s.close)
  const at = (path: string, timeoutMs = 1000) => probeHttp({ ip: '127.0.0.1', port: s.port, path, timeoutMs })
  t.same(await at('/ok'), { ok: true, detail: 'HTTP 200' })
  t.same(await at('/moved'), { ok: true, detail: 'HTTP 302' })
  t.same(await at('/missing'), { ok: false, detail: 'HTTP 404' })
  t.same(await at('/down'), { ok: false, detail: 'HTTP 503' })
  const t0 = Date.now()
  t.same(await at('/hang', 200), { ok: false, detail: 'timeout after 200ms' })
  t.ok(Date.now() - t0 < 1000, 'the timeout bounds the probe')
  const closed = await server(() => 200)
  await closed.close()
  t.match(await probeHttp({ ip: '127.0.0.1', port: closed.port, path: '/', timeoutMs: 500 }), { ok: false, detail: 'ECONNREFUSED' })
})

t.test('monitor: probes every interval, reports changes once, forgets', async (t) => {
  let healthy = true
  const s = await server(() => (healthy ? 200 : 503))
  t.teardown(s.close)
  const changes: Array<[string, Health]> = []
  const m = new HealthMonitor({ log: silentLogger(), onChange: (id, h) => changes.push([id, h]) })
  t.teardown(() => { m.close() })
  const check = { path: '/healthz', intervalMs: 100, timeoutMs: 100, retries: 2, startPeriodMs: 0 }
  m.observe('c1', '127.0.0.1', s.port, check)
  t.equal(m.healthOf('c1'), 'starting')
  const until = async (f: () => boolean): Promise<void> => { for (let i = 0; i < 100 && !f(); i++) await new Promise((resolve) => setTimeout(resolve, 20)) }
  await until(() => m.healthOf('c1') === 'healthy')
  t.same(changes, [['c1', 'healthy']], 'first probe at once')
  healthy = false
  const t0 = Date.now()
  await until(() => m.healthOf('c1') === 'unhealthy')
  t.equal(m.healthOf('c1'), 'unhealthy')
  t.ok(Date.now() - t0 < 2 * 100 + 400, 'unhealthy after retries × interval')
  t.same(changes, [['c1', 'healthy'], ['c1', 'unhealthy']], 'each change reported once')
  m.observe('c1', '127.0.0.1', s.port, undefined)
  t.equal(m.healthOf('c1'), undefined, 'no check label any more: forgotten')
  m.observe('c2', '127.0.0.1', s.port, check)
  m.retain(new Set())
  t.equal(m.size, 0, 'retain drops containers a snapshot no longer has')
})

t.test('handler: the agent\'s verdict goes out as an upsert through the event path; Docker\'s health is ignored', async (t) => {
  const { Registry } = await import('prom-client')
  const { EventHandler } = await import('../../src/agent/docker/handler.js')
  const { Publisher } = await import('../../src/agent/publisher.js')
  const { createAgentMetrics } = await import('../../src/agent/metrics.js')
  const { MacvlanNetworks } = await import('../../src/agent/docker/networks.js')
  const { Reservations } = await import('../../src/agent/docker/reservations.js')
  const { subjects } = await import('../../src/bus/index.js')
  const MV = 'f'.repeat(64)
  const ID = 'c'.repeat(64)
  const docker = {
    getContainer: () => ({
      inspect: async () => ({
        Id: ID, Name: '/c',
        Config: { Labels: { 'driftgate.service': 'web', 'driftgate.health.http': '/healthz', 'driftgate.health.interval': '100ms', 'driftgate.health.retries': '1', 'driftgate.health.start-period': '0s' } },
        State: { Running: true, Health: { Status: 'healthy' } },
        NetworkSettings: { Networks: { mv0: { NetworkID: MV, IPAddress: '10.240.0.5', MacAddress: '02:00:00:00:00:05' } } },
      }),
    }),
    getNetwork: () => ({ inspect: async () => ({ Driver: 'macvlan' }) }),
    listNetworks: async () => [{ Id: MV, Driver: 'macvlan' }],
  } as never
  const sent: Array<{ cause: string, endpoint: { health: string } }> = []
  const js = { publish: async (_s: string, data: Uint8Array) => { sent.push(JSON.parse(new TextDecoder().decode(data))); return {} } } as never
  const log = silentLogger()
  const metrics = createAgentMetrics(new Registry())
  const publisher = new Publisher({ nc: {} as never, js, subjects: subjects(), host: 'h1', instance: '000000001-abcdef', metrics, log, onFailure: () => {}, now: () => Date.now() })
  let pass = true
  const probed: string[] = []
  const box: { handler?: InstanceType<typeof EventHandler> } = {}
  const monitor = new HealthMonitor({
    log, onChange: (id) => { box.handler?.healthChanged(id) },
    probe: async (target) => { probed.push(`${target.ip}:${target.port}${target.path}`); return { ok: pass, detail: pass ? 'HTTP 200' : 'HTTP 503' } },
  })
  const handler = box.handler = new EventHandler({ docker, networks: new MacvlanNetworks(docker, log), publisher, reservations: new Reservations(docker), metrics, log, onTrouble: () => {}, health: monitor })
  t.teardown(async () => { monitor.close(); await handler.close(500) })
  handler.onEvent({ Type: 'container', Action: 'start', Actor: { ID, Attributes: { 'driftgate.service': 'web' } }, timeNano: Date.now() * 1e6 }, Date.now())
  const until = async (f: () => boolean): Promise<void> => { for (let i = 0; i < 100 && !f(); i++) await new Promise((resolve) => setTimeout(resolve, 20)) }
  await until(() => sent.length >= 2)
  t.same(sent.map((m) => [m.cause, m.endpoint.health]), [['start', 'starting'], ['health', 'healthy']], 'starting (Docker says healthy: ignored), then the agent\'s pass')
  t.equal(probed[0], '10.240.0.5:80/healthz', 'probes the container\'s MacVLAN address')
  pass = false
  await until(() => sent.length >= 3)
  t.same(sent.map((m) => m.endpoint.health), ['starting', 'healthy', 'unhealthy'], 'a failure (retries 1) goes out as unhealthy')
  handler.onEvent({ Type: 'container', Action: 'die', Actor: { ID, Attributes: { 'driftgate.service': 'web' } }, timeNano: Date.now() * 1e6 }, Date.now())
  await until(() => monitor.size === 0)
  t.equal(monitor.size, 0, 'a dead container is no longer probed')
})

t.test('monitor: the start period runs from the container\'s start, not from when the agent first saw it', async (t) => {
  const m = new HealthMonitor({ log: silentLogger(), onChange: () => {}, probe: async () => ({ ok: false, detail: 'HTTP 503' }) })
  t.teardown(() => { m.close() })
  const check = { path: '/healthz', intervalMs: 100, timeoutMs: 100, retries: 1, startPeriodMs: 60_000 }
  m.observe('old', '127.0.0.1', 80, check, Date.now() - 3_600_000) // an agent restarted long after the start
  m.observe('new', '127.0.0.1', 80, check, Date.now())
  await new Promise((resolve) => setTimeout(resolve, 250))
  t.equal(m.healthOf('old'), 'unhealthy', 'start period long over: the failure counts')
  t.equal(m.healthOf('new'), 'starting', 'just started: failures do not count yet')
})
