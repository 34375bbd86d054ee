// Placement end to end on a 3-host testbed: `driftgate apply` of 3 replicas
// spreads 1/1/1 and nginx routes all; `scale web=6` gives 2/2/2; `scale
// web=1` under load fails no request; then the wall time of `scale web=N`
// (default 30) until N replicas serve through nginx. Real dockerd ×3,
// nats-server, agents (each with its built-in reconciler, whose planned stops
// publish the endpoint as draining through the agent's event path), registry
// (placement + API), renderer, nginx.
import t from 'tap'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { waitFor, TEST_IMAGE } from '../harness/index.js'
import { silentLogger } from '../../src/core/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { type Placement } from '../../src/placement/index.js'
import { ApiClient } from '../../src/cli/client.js'
import { applyFiles } from '../../src/cli/apply.js'
import { scaleServices } from '../../src/cli/scale.js'
import { renderStatus } from '../../src/cli/status.js'
import type { PlacementStatus } from '../../src/placement/status.js'
import { controlPlane, startEdge, startHost as startHostOf, startLoad as startLoadIn, type Sample, startBed } from './placement-fixtures.js'
import { get } from '../integration/renderer-fixtures.js'

const TOKEN = 'e2e-placement-token'
const BENCH_REPLICAS = Number(process.env.DG_PLACEMENT_BENCH_REPLICAS ?? 30)
const HOST_GRACE = '5s'
const log = silentLogger()

const { tb, nats, nc } = await startBed(t, 'placement', 3)

let placement: Placement | undefined
let api = ''
const components = controlPlane({ log, token: TOKEN, onPlacement: (p) => { placement = p }, onApi: (url) => { api = url } })
const registry = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, nats: nats.url, heartbeatInterval: '1s', hostGrace: HOST_GRACE }), { nc, log, components })
await registry.start()
t.teardown(async () => await registry.close())

// A timeline for failures: renderer generations and the agents' draining upserts, as they reach NATS.
const stops: Array<[string, number, string]> = []
const drained = new Set<string>()
const decode = (data: Uint8Array): any => JSON.parse(new TextDecoder().decode(data))
nc.subscribe('driftgate.applied.*', {
  callback: (_e, m) => { const a = decode(m.data); stops.push([`gen ${a.generation}`, Date.now(), `${a.containers.length} routed`]) },
})
nc.subscribe('driftgate.events.*', {
  callback: (_e, m) => {
    const ev = decode(m.data)
    if (ev.kind === 'upsert' && ev.endpoint.state === 'draining') {
      drained.add(ev.endpoint.containerId)
      stops.push([ev.endpoint.containerId.slice(0, 12), Date.now(), `draining (${ev.cause})`])
    }
  },
})

const dockers = tb.hosts.map((h) => new Dockerode({ socketPath: h.socketPath }))
const startHost = async (i: number): Promise<{ close: () => Promise<void> }> => await startHostOf(tb, i, nats.url, log)
const hostSides = await Promise.all(tb.hosts.map(async (_, i) => await startHost(i)))
t.teardown(async () => { await Promise.all(hostSides.map(async (s) => await s.close())) })

const { nginx, renderer } = await startEdge(t, 'placement', nc, log)

const client = new ApiClient({ api, token: TOKEN })
const quiet = (): void => {}
const routedCount = (): number => renderer.applied?.containers.length ?? 0

async function perHost (): Promise<number[]> {
  return await Promise.all(dockers.map(async (d) =>
    (await d.listContainers({ filters: { label: ['driftgate.service=web', 'driftgate.managed=true'] } }).catch(() => [])).length))
}

async function images (): Promise<string[]> {
  const lists = await Promise.all(dockers.map(async (d) =>
    await d.listContainers({ filters: { label: ['driftgate.service=web', 'driftgate.managed=true'] } }).catch(() => [])))
  return lists.flat().map((c) => c.Image).sort()
}

function failures (what: string, samples: Sample[]): Sample[] {
  const failed = samples.filter((s) => s[2] < 200 || s[2] > 299)
  t.comment(`${what}: ${samples.length} requests, ${failed.length} failed`)
  if (failed.length > 0) {
    t.comment(`failures: ${JSON.stringify(failed.slice(0, 5))}`)
    const errors = readFileSync(nginx.errorLog, 'utf8').split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l))
    t.comment(`nginx error log (last 5):\n${errors.slice(-5).join('\n')}`)
    t.comment(`timeline: ${JSON.stringify(stops.filter((x) => Math.abs(x[1] - failed[0][0]) < 4000))}`)
  }
  return failed
}

const startLoad = (): ReturnType<typeof startLoadIn> => startLoadIn(t, nginx.port, 4, 600_000)

const specFile = join(tmpdir(), `dg-placement-web-${process.pid}.yaml`)
writeFileSync(specFile, `name: web
image: ${TEST_IMAGE}
replicas: 3
port: 80
network: mv0
resources: { cpu: 0.05, memory: 32Mi }
health: { http: /healthz, interval: 2s }
stopGracePeriod: 2s
`)
t.teardown(() => rmSync(specFile, { force: true }))

t.test('apply 3 replicas: 1/1/1, all routed by nginx', async (t) => {
  await waitFor(async () => placement?.isLeader() === true, { timeoutMs: 15_000, what: 'placement leader' })
  await waitFor(async () => (await client.get<{ hosts: unknown[] }>('/v1/hosts')).hosts.length === 3, { timeoutMs: 15_000, what: '3 hosts up' })
  await applyFiles(client, [specFile], quiet)
  await scaleServices(client, [{ service: 'web', replicas: 3 }], { wait: true, timeoutMs: 90_000, out: quiet })
  t.same((await perHost()).sort(), [1, 1, 1], 'one replica per host')
  await waitFor(() => routedCount() === 3, { timeoutMs: 30_000, what: 'nginx routes 3' })
  t.equal((await get(nginx.port, 'web.example.com')).status, 200)
  // What `driftgate status` prints, from the live API.
  const text = renderStatus(await client.get<PlacementStatus>('/v1/placement'),
    (await client.get<{ services: Array<{ name: string, version: number | null, endpoints: { healthy: number, total: number } }> }>('/v1/services')).services)
  t.match(text, /placement leader: \S+/)
  t.match(text, /\nweb\s+1\s+3\s+3\s+3\s+3\s+h1:1 h2:1 h3:1/, 'status: desired/assigned/running/healthy and spread')
})

t.test('scale web=6: 2/2/2', async (t) => {
  await scaleServices(client, [{ service: 'web', replicas: 6 }], { wait: true, timeoutMs: 90_000, out: quiet })
  t.same(await perHost(), [2, 2, 2])
  await waitFor(() => routedCount() === 6, { timeoutMs: 30_000, what: 'nginx routes 6' })
})

t.test('scale web=1 under load: 0 failed requests', async (t) => {
  const before = (await Promise.all(dockers.map(async (d) => await d.listContainers({ filters: { label: ['driftgate.service=web'] } })))).flat().map((c) => c.Id)
  const load = startLoad()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  await scaleServices(client, [{ service: 'web', replicas: 1 }], { wait: true, timeoutMs: 90_000, out: quiet })
  await waitFor(async () => (await perHost()).reduce((a, b) => a + b, 0) === 1, { timeoutMs: 30_000, what: 'one container left' })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const samples = await load.stop()
  t.ok(samples.length > 0)
  t.equal(failures('scale 6 → 1 under load', samples).length, 0, '0 failed requests')
  const after = new Set((await Promise.all(dockers.map(async (d) => await d.listContainers()))).flat().map((c) => c.Id))
  const stopped = before.filter((id) => !after.has(id))
  t.equal(stopped.length, 5)
  t.ok(stopped.every((id) => drained.has(id)), 'every stopped replica was published draining by its agent first')
  t.ok(stopped.every((id) => stops.some((s) => s[0] === id.slice(0, 12) && s[2] === 'draining (drain)')), 'through markDraining (cause drain), not a docker stop')
})

t.test(`bench: scale web=${BENCH_REPLICAS} until all serve through nginx`, async (t) => {
  const t0 = Date.now()
  await client.patch('/v1/services/web', { replicas: BENCH_REPLICAS })
  await waitFor(() => routedCount() === BENCH_REPLICAS, { timeoutMs: 180_000, intervalMs: 50, what: `nginx routes ${BENCH_REPLICAS}` })
  const ms = Date.now() - t0
  t.comment(`scale web=${BENCH_REPLICAS} from 1: ${(ms / 1000).toFixed(1)} s until nginx routed all ${BENCH_REPLICAS} (${(await perHost()).join('/')} per host)`)
  t.pass()
})

t.test('rolling update of the image under load: 0 failed requests', async (t) => {
  for (let i = 1; i <= 3; i++) await tb.docker(i)('tag', TEST_IMAGE, 'driftgate-test:v2')
  await scaleServices(client, [{ service: 'web', replicas: 3 }], { wait: true, timeoutMs: 120_000, out: quiet })
  await waitFor(() => routedCount() === 3, { timeoutMs: 30_000, what: 'nginx routes 3' })
  // The 27 drained replicas leave nginx before their containers stop: wait
  // for those stops too, or they would count among the replicas to update.
  await waitFor(async () => (await perHost()).reduce((a, b) => a + b, 0) === 3, { timeoutMs: 60_000, what: '3 containers left' })
  const old = (await Promise.all(dockers.map(async (d) => await d.listContainers({ filters: { label: ['driftgate.service=web'] } })))).flat().map((c) => c.Id)
  const load = startLoad()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const t0 = Date.now()
  writeFileSync(specFile, readFileSync(specFile, 'utf8').replace(`image: ${TEST_IMAGE}`, 'image: driftgate-test:v2'))
  await applyFiles(client, [specFile], quiet)
  await waitFor(async () => {
    const im = await images()
    return im.length === 3 && im.every((x) => x === 'driftgate-test:v2') && routedCount() === 3
  }, { timeoutMs: 120_000, intervalMs: 200, what: 'every replica on v2' })
  t.comment(`rolling update of 3 replicas took ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(failures('rolling update under load', await load.stop()).length, 0, '0 failed requests')
  t.ok(old.length === 3 && old.every((id) => drained.has(id)), 'every replaced replica was published draining by its agent first')
})

t.test('a stopped host: its replicas move within the grace period + 10 s; on return the count is right', async (t) => {
  const before = await perHost()
  const victim = before.findIndex((n) => n > 0)
  const victimIds = new Set((await dockers[victim].listContainers()).map((c) => c.Id))
  const t0 = Date.now()
  await hostSides[victim].close()
  await tb.stopDockerd(victim + 1)
  await waitFor(() => {
    const routed = renderer.applied?.containers ?? []
    return routed.length === 3 && !routed.some((id) => victimIds.has(id))
  }, { timeoutMs: 60_000, intervalMs: 100, what: 'replicas moved and routed' })
  const movedMs = Date.now() - t0
  t.comment(`host ${tb.hosts[victim].name} stopped: 3 replicas routed again, none on it, after ${(movedMs / 1000).toFixed(1)} s (grace ${HOST_GRACE})`)
  t.ok(movedMs <= 5000 + 10_000, 'within grace + 10 s')
  await tb.startDockerd(victim + 1)
  hostSides[victim] = await startHost(victim)
  await waitFor(async () => (await perHost()).reduce((a, b) => a + b, 0) === 3, { timeoutMs: 60_000, what: '3 replicas in all' })
  await new Promise((resolve) => setTimeout(resolve, 3000))
  t.equal((await perHost()).reduce((a, b) => a + b, 0), 3, 'still 3 after the host returned (its stale replicas stopped)')
  await waitFor(() => routedCount() === 3, { timeoutMs: 30_000, what: 'nginx routes 3' })
})
