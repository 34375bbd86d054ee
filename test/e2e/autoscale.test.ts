// Autoscaling end to end on a 2-host testbed, two services at once: `burn`
// with a cpu target (min 2, max 4, 50 % of a 0.1-CPU limit) under load on
// the test image's /burn endpoint, and `reqs` with a requestsPerReplica
// target (10 req/s) under plain request load, both through nginx. Each scales
// up within 30 s, and back to min once the load stops and the (shortened)
// scale-down window has passed. The decisions are in the activity feed and
// the spec history (by autoscaler), `status` shows metric, target and reason,
// and `scale burn=N` on an autoscaled service is refused. Real dockerd ×2,
// nats-server, agents (reporting container CPU every second), registry
// (placement + autoscaler + service load + API + activity feed), a lua-mode
// renderer (its request counters feed the load), nginx.
import t from 'tap'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request, Agent } from 'node:http'
import { waitFor, TEST_IMAGE } from '../harness/index.js'
import { silentLogger, type ServiceRecord } from '../../src/core/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { activityRoutes } from '../../src/registry/activity/index.js'
import { serviceRoutes, historyRoutes, type AutoscaleView, type Placement, type PlacementStatus } from '../../src/placement/index.js'
import { ApiClient } from '../../src/cli/client.js'
import { applyFiles } from '../../src/cli/apply.js'
import { scaleServices } from '../../src/cli/scale.js'
import { renderStatus } from '../../src/cli/status.js'
import { controlPlane, startEdge, startHost, startBed } from './placement-fixtures.js'

const TOKEN = 'e2e-autoscale-token'
const log = silentLogger()
const t0 = Date.now()

const { tb, nats, nc } = await startBed(t, 'autoscale', 2)

let placement: Placement | undefined
let api = ''
const components = controlPlane({
  log, token: TOKEN, load: true, activity: true, placementConfig: { autoscaleIntervalMs: 1000 },
  routes: (ctx, p) => [serviceRoutes({ kv: ctx.kv, tables: p?.tables, log }), historyRoutes({ kv: ctx.kv, log }), activityRoutes({ nc: ctx.nc, log })],
  onPlacement: (p) => { placement = p },
  onApi: (url) => { api = url },
})
const registry = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, nats: nats.url, heartbeatInterval: '1s', hostGrace: '5s', statsWindow: '4s' }), { nc, log, components })
await registry.start()
t.teardown(async () => await registry.close())

const hostSides = await Promise.all(tb.hosts.map(async (_, i) => await startHost(tb, i, nats.url, log, { statsInterval: '1s' })))
t.teardown(async () => { await Promise.all(hostSides.map(async (s) => await s.close())) })
const { nginx, renderer } = await startEdge(t, 'autoscale', nc, log, { lua: true })
const client = new ApiClient({ api, token: TOKEN })
const quiet = (): void => {}
t.comment(`setup: ${((Date.now() - t0) / 1000).toFixed(1)} s`)

const replicas = async (name: string): Promise<number> => (await client.get<{ spec: ServiceRecord['spec'] }>(`/v1/services/${name}`)).spec.replicas
const viewOf = async (name: string): Promise<AutoscaleView | undefined> => (await client.get<PlacementStatus>('/v1/placement')).autoscale?.find((v) => v.service === name)

/**
 * Keeps `n` requests to `path` in flight through nginx for Host
 * `<service>.example.com` until stopped (or 40 s at most). Loopback only.
 */
function load (service: string, path: string, n: number): { stop: () => Promise<{ ok: number, failed: number }> } {
  const agent = new Agent({ keepAlive: true, maxSockets: n })
  const deadline = Date.now() + 40_000
  let stopped = false
  const counts = { ok: 0, failed: 0 }
  const one = async (): Promise<void> => await new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: nginx.port, path, headers: { host: `${service}.example.com` }, agent, timeout: 10_000 }, (res) => {
      res.resume()
      res.on('end', () => { if (res.statusCode === 200) counts.ok++; else counts.failed++; resolve() })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => { counts.failed++; resolve() })
    req.end()
  })
  const loops = Array.from({ length: n }, async () => {
    // A pause between plain requests keeps the request load a modest rate (the target is 10 req/s per replica).
    while (!stopped && Date.now() < deadline) { await one(); if (path === '/') await new Promise((resolve) => setTimeout(resolve, 20)) }
  })
  return { stop: async () => { stopped = true; await Promise.all(loops); agent.destroy(); return counts } }
}

const common = `image: ${TEST_IMAGE}
replicas: 2
port: 80
network: mv0
env: { DG_HTTPD_QUIET: "1" }
stopGracePeriod: 2s
`
const specFile = join(tmpdir(), `dg-autoscale-${process.pid}.yaml`)
writeFileSync(specFile, `name: burn
${common}resources: { cpu: 0.1, memory: 32Mi }
autoscale: { min: 2, max: 4, cpu: 50, scaleDownStabilization: 6s }
---
name: reqs
${common}resources: { memory: 32Mi }
autoscale: { min: 2, max: 4, requestsPerReplica: 10, scaleDownStabilization: 6s }
`)
t.teardown(() => rmSync(specFile, { force: true }))

t.test('cpu load (burn) and request load (reqs): 2 → up within 30 s; load gone: back to min after the window', async (t) => {
  await waitFor(async () => placement?.isLeader() === true, { timeoutMs: 15_000, what: 'placement leader' })
  await waitFor(async () => (await client.get<{ hosts: unknown[] }>('/v1/hosts')).hosts.length === 2, { timeoutMs: 15_000, what: '2 hosts up' })
  await applyFiles(client, [specFile], quiet)
  await waitFor(() => (renderer.applied?.containers.length ?? 0) === 4, { timeoutMs: 30_000, what: 'nginx routes 2 + 2' })
  // Idle replicas: the autoscaler holds at min (nothing to scale down to).
  await waitFor(async () => (await viewOf('burn'))?.metrics[0]?.current != null, { timeoutMs: 15_000, what: 'cpu figures reach the autoscaler' })
  t.same([await replicas('burn'), await replicas('reqs')], [2, 2], 'idle: min')

  const cursor = (await client.nextEvents(undefined, 1000)).next
  const loadStart = Date.now()
  const loads = [load('burn', '/burn?ms=400', 6), load('reqs', '/', 4)]
  const upAfter: Record<string, number> = {}
  await Promise.all(['burn', 'reqs'].map(async (name) => {
    await waitFor(async () => await replicas(name) > 2, { timeoutMs: 30_000, intervalMs: 250, what: `${name}: scale up under load` })
    upAfter[name] = Date.now() - loadStart
  }))
  t.comment(`scaled up after the load started: burn ${(upAfter.burn / 1000).toFixed(1)} s, reqs ${(upAfter.reqs / 1000).toFixed(1)} s`)
  t.ok(upAfter.burn < 30_000 && upAfter.reqs < 30_000, 'both scale up within 30 s')
  const status = await client.get<PlacementStatus>('/v1/placement')
  const burn = status.autoscale?.find((v) => v.service === 'burn')
  const reqs = status.autoscale?.find((v) => v.service === 'reqs')
  t.equal(burn?.targets.cpu, 50, 'status: cpu target')
  t.match(burn?.lastChange?.reason ?? '', /^up: cpu \d+(\.\d)?% \(target 50%\) wants \d/, 'status: the last change with its reason (cpu)')
  t.equal(reqs?.targets.requestsPerReplica, 10, 'status: requests target')
  t.match(reqs?.lastChange?.reason ?? '', /^up: requests \d+(\.\d)? req\/s per replica \(target 10 req\/s per replica\) wants \d/, 'status: the last change with its reason (requests)')
  const text = renderStatus(status, [])
  t.match(text, /AUTOSCALE[^\n]*\n(?:.*\n)?burn\s+[34]\s+2\.\.4\s+\d+(\.\d)?%\/50%/, 'driftgate status prints the burn row')
  t.match(text, /\nreqs\s+[34]\s+2\.\.4\s+-\s+[\d.?]+\/10\s/, 'and the reqs row')

  // The manual scale of an autoscaled service is refused, naming the range. The count asked for lies outside
  // 2..4, so it can never equal the current one (a PATCH to the current count is no change and is allowed).
  await t.rejects(scaleServices(client, [{ service: 'burn', replicas: 6 }], { wait: false, timeoutMs: 1000, out: quiet }),
    /autoscaled \(autoscale\.min 2, autoscale\.max 4\)/)

  const counts = await Promise.all(loads.map(async (l) => await l.stop()))
  const stopAt = Date.now()
  t.comment(`load: burn ${counts[0].ok} ok / ${counts[0].failed} failed, reqs ${counts[1].ok} ok / ${counts[1].failed} failed`)
  t.ok(counts[0].ok > 0 && counts[1].ok > 0)
  const downAfter: Record<string, number> = {}
  await Promise.all(['burn', 'reqs'].map(async (name) => {
    await waitFor(async () => await replicas(name) === 2, { timeoutMs: 30_000, intervalMs: 250, what: `${name}: back to min` })
    downAfter[name] = Date.now() - stopAt
  }))
  t.comment(`back to min after the load stopped (scale-down window 6 s): burn ${(downAfter.burn / 1000).toFixed(1)} s, reqs ${(downAfter.reqs / 1000).toFixed(1)} s`)
  t.ok(downAfter.burn >= 5000 && downAfter.reqs >= 5000, 'not before the scale-down window (less the last busy report)')

  const events = (await client.get<{ events: Array<{ kind: string, service?: string, message: string }> }>(`/v1/events?since=${cursor}&limit=500`)).events
  const scaling = events.filter((e) => e.kind === 'autoscale').map((e) => e.message)
  t.comment(scaling.join('\n'))
  t.ok(scaling.some((m) => /^autoscale: burn 2 → [34] replicas \(up: cpu/.test(m)), 'burn: the scale-up is in the activity feed with its reason')
  t.ok(scaling.some((m) => /^autoscale: burn [34] → 2 replicas \(down: cpu/.test(m)), 'burn: the scale-down too')
  t.ok(scaling.some((m) => /^autoscale: reqs 2 → [34] replicas \(up: requests/.test(m)), 'reqs: the scale-up is in the activity feed with its reason')
  t.ok(scaling.some((m) => /^autoscale: reqs [34] → 2 replicas \(down: requests/.test(m)), 'reqs: the scale-down too')
  const history = (await client.get<{ versions: Array<{ by: string, reason: string }> }>('/v1/services/burn/history')).versions
  t.ok(history.filter((h) => h.by === 'autoscaler').length >= 2, 'history: versions written by the autoscaler')
})

t.test('PATCH of the range: the count follows into it', async (t) => {
  await scaleServices(client, [{ service: 'burn', replicas: 3, range: { min: 3, max: 4 } }], { wait: false, timeoutMs: 1000, out: quiet })
  t.equal(await replicas('burn'), 3, 'min raised to 3: replicas 3')
  t.comment(`total: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
})
