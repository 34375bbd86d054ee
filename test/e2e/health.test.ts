// Health checks that act (issue 19), end to end on a 2-host testbed: a
// service of the no-shell image (no wget, no shell: only the agent's own HTTP
// check can judge it) runs 2 replicas; one is turned unhealthy through its
// /health/off; it leaves nginx within one check interval plus a push, and
// placement replaces it after replaceAfter (3 s here): a new container on
// its host turns healthy and is routed, then the old one is drained and
// removed — 0 failed requests through nginx meanwhile. Real dockerd ×2,
// nats-server, agents (reconciler on), registry (placement + API), renderer,
// nginx.
import t from 'tap'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import Dockerode from 'dockerode'
import { waitFor, TEST_IMAGE_NOSHELL } from '../harness/index.js'
import { silentLogger } from '../../src/core/index.js'
import { readActivity } from '../../src/bus/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { type Placement, type PlacementStatus } from '../../src/placement/index.js'
import { ApiClient } from '../../src/cli/client.js'
import { applyFiles } from '../../src/cli/apply.js'
import { renderStatus } from '../../src/cli/status.js'
import { controlPlane, startEdge, startHost, startLoad as startLoadIn, startBed } from './placement-fixtures.js'

const TOKEN = 'e2e-health-token'
// A probe of the healthy replica must not time out on a loaded CI machine (2 cores, many
// testbeds): the timeout is the whole interval; retries 1 keeps "out within one interval".
const INTERVAL_MS = 1000
const REPLACE_AFTER_MS = 3000
const log = silentLogger()

const { tb, nats, nc } = await startBed(t, 'health', 2)

let placement: Placement | undefined
let api = ''
const components = controlPlane({ log, token: TOKEN, activity: true, onPlacement: (p) => { placement = p }, onApi: (url) => { api = url } })
const registry = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, nats: nats.url, heartbeatInterval: '1s', hostGrace: '5s' }), { nc, log, components })
await registry.start()
t.teardown(async () => await registry.close())

const dockers = tb.hosts.map((h) => new Dockerode({ socketPath: h.socketPath }))
const hostSides = await Promise.all(tb.hosts.map(async (_, i) => await startHost(tb, i, nats.url, log)))
t.teardown(async () => { await Promise.all(hostSides.map(async (s) => await s.close())) })
const { nginx, renderer } = await startEdge(t, 'health', nc, log)
const client = new ApiClient({ api, token: TOKEN })
const routed = (): string[] => renderer.applied?.containers ?? []

interface Replica { id: string, host: number, ip: string, replica: string, healthcheck: unknown }
async function replicas (): Promise<Replica[]> {
  const lists = await Promise.all(dockers.map(async (d, host) =>
    (await d.listContainers({ filters: { label: ['driftgate.service=web', 'driftgate.managed=true'] } })).map((c) => ({ c, host, d }))))
  return await Promise.all(lists.flat().map(async ({ c, host, d }) => ({
    id: c.Id, host, ip: c.NetworkSettings?.Networks?.mv0?.IPAddress ?? '', replica: c.Labels['driftgate.replica'],
    healthcheck: (await d.getContainer(c.Id).inspect()).Config.Healthcheck,
  })))
}

async function endpointHealth (id: string): Promise<string | undefined> {
  const e = await nc.jetstream().views.kv('driftgate_endpoints').then(async (kv) => await kv.get(`web.${id}`))
  return e?.value !== undefined && e.value.length > 0 ? JSON.parse(new TextDecoder().decode(e.value)).health : undefined
}

async function httpGet (ip: string, path: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    request({ host: ip, port: 80, path, agent: false, timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
      .on('error', reject).end()
  })
}

const startLoad = (): ReturnType<typeof startLoadIn> => startLoadIn(t, nginx.port, 2, 60_000)

const specFile = join(tmpdir(), `dg-health-web-${process.pid}.yaml`)
writeFileSync(specFile, `name: web
image: ${TEST_IMAGE_NOSHELL}
replicas: 2
port: 80
network: mv0
resources: { cpu: 0.05, memory: 32Mi }
health: { http: /healthz, interval: ${INTERVAL_MS}ms, timeout: ${INTERVAL_MS}ms, retries: 1, startPeriod: 0s, replaceAfter: ${REPLACE_AFTER_MS}ms }
stopGracePeriod: 1s
`)
t.teardown(() => { rmSync(specFile, { force: true }) })

t.test('the no-shell image is health-checked over HTTP by the agent', async (t) => {
  await waitFor(async () => placement?.isLeader() === true, { timeoutMs: 15_000, what: 'placement leader' })
  await waitFor(async () => (await client.get<{ hosts: unknown[] }>('/v1/hosts')).hosts.length === 2, { timeoutMs: 15_000, what: '2 hosts up' })
  await applyFiles(client, [specFile], () => {})
  const rs = await waitFor(async () => { const r = await replicas(); return r.length === 2 ? r : undefined }, { timeoutMs: 30_000, what: '2 containers' })
  t.same(rs.map((r) => r.host).sort(), [0, 1], 'one replica per host')
  t.ok(rs.every((r) => r.healthcheck == null), 'no Docker healthcheck: the image has no shell or wget')
  await waitFor(async () => (await Promise.all(rs.map(async (r) => await endpointHealth(r.id)))).every((h) => h === 'healthy'), { timeoutMs: 15_000, what: 'both healthy' })
  await waitFor(() => routed().length === 2, { timeoutMs: 15_000, what: 'nginx routes 2' })
  t.pass('both replicas healthy (the agent\'s HTTP check) and routed')
})

t.test('an unhealthy replica leaves nginx, is replaced after replaceAfter; 0 failed requests', async (t) => {
  const [sick] = (await replicas()).sort((a, b) => a.host - b.host)
  const load = startLoad()
  await new Promise((resolve) => setTimeout(resolve, 500))
  const verdicts = new Set<string>()
  const t0 = Date.now()
  t.equal(await httpGet(sick.ip, '/health/off'), 200, '/health/off')
  await waitFor(() => !routed().includes(sick.id), { timeoutMs: 10_000, intervalMs: 20, what: 'the unhealthy replica leaves nginx' })
  const outMs = Date.now() - t0
  t.comment(`unhealthy → out of nginx: ${outMs} ms (interval ${INTERVAL_MS} ms)`)
  t.ok(outMs < INTERVAL_MS + 2000, 'within one check interval plus a push')
  // Placement's view while it waits and replaces (GET /v1/placement, what `driftgate status` prints).
  let statusText = ''
  const replaced = await waitFor(async () => {
    const p = await client.get<PlacementStatus>('/v1/placement')
    for (const d of p.replacements ?? []) verdicts.add(d.verdict)
    if ((p.replacements ?? []).length > 0 && statusText === '') statusText = renderStatus(p, [])
    const now = await replicas()
    const fresh = now.find((r) => r.host === sick.host && r.id !== sick.id && r.replica === sick.replica)
    return fresh !== undefined && !now.some((r) => r.id === sick.id) && routed().includes(fresh.id) ? fresh : undefined
  }, { timeoutMs: 25_000, intervalMs: 100, what: 'the replica replaced' })
  const doneMs = Date.now() - t0
  t.comment(`unhealthy → replaced (new container routed, old one removed): ${doneMs} ms (replaceAfter ${REPLACE_AFTER_MS} ms); verdicts seen: ${[...verdicts].join(', ')}`)
  t.ok(doneMs >= REPLACE_AFTER_MS, 'not before replaceAfter')
  t.ok(verdicts.has('waiting'), 'status showed the replica waiting for replaceAfter')
  t.match(statusText, /UNHEALTHY\s+REPLICA\s+HOST\s+ACTION\s+REASON\nweb\s+\d+\s+h\d\s+(waiting|replacing)/, 'driftgate status lists it')
  t.equal(await endpointHealth(replaced.id), 'healthy', 'the new container is healthy')
  await new Promise((resolve) => setTimeout(resolve, 500))
  const samples = await load.stop()
  const failed = samples.filter((s) => s[2] < 200 || s[2] > 299)
  t.comment(`${samples.length} requests through nginx, ${failed.length} failed`)
  if (failed.length > 0) {
    const byStatus = new Map<string, number>()
    for (const f of failed) byStatus.set(`${f[2]} ${f[4] ?? ''}`, (byStatus.get(`${f[2]} ${f[4] ?? ''}`) ?? 0) + 1)
    t.comment(`failures by status: ${JSON.stringify([...byStatus])}; first at +${failed[0][0] - t0} ms, last at +${failed[failed.length - 1][0] - t0} ms`)
    t.comment(`nginx errors: ${readFileSync(nginx.errorLog, 'utf8').split('\n').filter((l) => /\[(error|crit|alert)\]/.test(l)).slice(-4).join('\n')}`)
  }
  t.ok(samples.length > 50, 'the load ran')
  t.equal(failed.length, 0, '0 failed requests')
  const feed = await readActivity(await nc.jetstreamManager(), undefined, 200)
  t.ok(feed.events.some((e) => e.kind === 'placement' && /replica \d+ on h\d replaced: unhealthy for/.test(e.message)), 'the decision is in the activity feed')
  await waitFor(async () => (await client.get<PlacementStatus>('/v1/placement')).replacements?.length === 0, { timeoutMs: 10_000, what: 'status clear again' })
})
