// The headline: a 3-replica service behind nginx keeps answering while its
// containers are stopped, killed and moved 50 times, each time coming back
// with a new MacVLAN IP. Real dockerd ×3 (testbed), nats-server, agents,
// registry, renderer and nginx. Load comes from a separate process.
// Both renderer modes, each with its own nginx and renderer on the same
// testbed. lua: 0 reloads during churn, 0 failed for a keep-alive client that
// never retries, 0 failed POSTs during planned stops (drained first, as the
// reconciler does) and moves (a `docker kill` can only lose what was in
// flight on the killed container: reported). file: the
// keep-alive client may retry a GET on an idle connection a reload closed.
//   env: DG_CHURN_MODES (lua,file), DG_CHURN_CYCLES (50), DG_CHURN_FILE_CYCLES (15),
//   DG_CHURN_CONNS (16: keep-alive connections of the GET client; the POST
//   client has half, the one-connection-per-request client a quarter)
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from 'nats'
import { Testbed, startNats, startNginx, freePort, waitFor, type NginxServer } from '../harness/index.js'
import { silentLogger } from '../../src/core/index.js'
import { createRenderer, type Renderer } from '../../src/renderer/index.js'
import { createAgent, resolveAgentConfig } from '../../src/agent/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { exampleHttpBody, get } from '../integration/renderer-fixtures.js'

const CYCLES = Number(process.env.DG_CHURN_CYCLES ?? 50)
// file mode is the fallback and is kept tested; fewer cycles keep CI time modest
const FILE_CYCLES = Number(process.env.DG_CHURN_FILE_CYCLES ?? 15)
const MODES = (process.env.DG_CHURN_MODES ?? 'lua,file').split(',') as Array<'lua' | 'file'>
const STEADY_MS = 5000
// The keep-alive test image answers in well under a millisecond: the clients'
// request rate is bounded by their connections (closed loops), so they get
// enough to load the path ≥ 10× the fork-per-request image's ~326 req/s.
const CONNS = Math.max(4, Math.min(64, Number(process.env.DG_CHURN_CONNS ?? 16)))
const here = dirname(fileURLToPath(import.meta.url))
const log = silentLogger()

const tb = await Testbed.create({ hosts: 3, name: 'churn' })
t.teardown(async () => await tb.teardown())
const nats = await startNats()
t.teardown(async () => await nats.stop())
const nc = await connect({ servers: nats.url })
t.teardown(async () => await nc.close())
const registry = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, nats: nats.url }), { nc, log, components: [] })
await registry.start()
t.teardown(async () => await registry.close())
const agents = tb.hosts.map((h) => createAgent(resolveAgentConfig({ ipamDriver: false, hostId: h.name, docker: h.socketPath, nats: nats.url, network: 'mv0', heartbeatInterval: '1s' }), { log }))
await Promise.all(agents.map(async (a) => await a.start()))
t.teardown(async () => { await Promise.all(agents.map(async (a) => await a.close())) })
/** nginx + renderer of one mode. */
async function edge (mode: 'lua' | 'file'): Promise<{ nginx: NginxServer, renderer: Renderer, close: () => Promise<void> }> {
  const out = mkdtempSync(join(tmpdir(), `dg-churn-${mode}-`))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: mode === 'lua' })
  const renderer = createRenderer({
    id: 'churn', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort: await freePort(), minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 10_000, announceIntervalMs: 5000, mode,
  }, { nc, log })
  await renderer.start()
  return {
    nginx, renderer,
    close: async () => { await renderer.close(); await nginx.stop(); rmSync(out, { recursive: true, force: true }) },
  }
}
let renderer: Renderer

const labels = { 'driftgate.service': 'web', 'driftgate.port': '80' }
const routed = (id: string): boolean => renderer.applied?.containers.includes(id) ?? false
const hostIndex = (i: number): number => ((i % 3) + 3) % 3

interface Replica { id: string, host: number, ip: string }

// Docker's IPAM hands the address a stopped container just released to the
// next one; pick addresses in rotation from each host's /27 instead, so every
// replacement really comes back on a new IP (as driftgate's IPAM, with its
// quarantine, would do).
const nextOffset = [0, 0, 0]
function nextIp (host: number): string {
  const base = tb.hosts[host].ipRange.split('/')[0].split('.').map(Number)
  const offset = 2 + (nextOffset[host]++ % 28)
  return `${base[0]}.${base[1]}.${base[2]}.${base[3] + offset}`
}

async function runReplica (host: number): Promise<Replica> {
  const ip = nextIp(host)
  const id = await tb.run(host + 1, { labels, ip })
  return { id, host, ip: await tb.ipOf(host + 1, id) }
}

async function waitRouted (id: string, want: boolean, what: string): Promise<void> {
  await waitFor(() => routed(id) === want, { what, timeoutMs: 30_000, intervalMs: 10 })
}

type Sample = [number, number, number, number, string | null]

function percentile (values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

function summary (samples: Sample[], ms: number): string {
  const lat = samples.map((s) => s[1])
  // Not Math.max(...lat): spreading 120k+ samples overflows the call stack.
  const failed = samples.filter((s) => s[2] < 200 || s[2] > 299).length
  const retried = samples.filter((s) => s[3] === 1).length
  return `${samples.length} requests (${(samples.length / Math.max(1, ms / 1000)).toFixed(0)}/s), ${failed} failed, ${retried} retried after nginx closed an idle keep-alive connection, ` +
    `p50 ${percentile(lat, 0.5).toFixed(1)} ms, p99 ${percentile(lat, 0.99).toFixed(1)} ms, max ${lat.reduce((m, x) => (x > m ? x : m), 0).toFixed(1)} ms`
}

const reloadsOk = async (r: Renderer): Promise<number> =>
  [...(await r.registry.metrics()).matchAll(/^driftgate_renderer_reloads_total\{[^}]*result="ok"[^}]*\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0)

const replicas: Replica[] = []
for (const mode of MODES) {
  const cycles = mode === 'lua' ? CYCLES : FILE_CYCLES
  t.test(`${mode} mode: ${cycles} stop/kill/move cycles under load: 0 failed requests`, async (t) => {
    const e = await edge(mode)
    t.teardown(e.close)
    renderer = e.renderer
    await churn(t, mode, cycles, e.nginx)
  })
}

async function churn (t: Test, mode: 'lua' | 'file', CYCLES: number, nginx: NginxServer): Promise<void> {
  if (replicas.length === 0) for (let h = 0; h < 3; h++) replicas.push(await runReplica(h))
  for (const r of replicas) await waitRouted(r.id, true, `replica ${r.ip} routed`)
  await waitFor(async () => (await get(nginx.port, 'web.example.com')).status === 200, { what: 'web served' })
  await renderer.idle()
  await nginx.settled()

  // lua: keep-alive GETs never retried (CONNS connections), POSTs never
  // retried (CONNS/2), one connection per request (CONNS/4). file: keep-alive
  // GETs retried once on an idle connection a reload closed (CONNS), one
  // connection per request (CONNS/4).
  const clients = mode === 'lua' ? (['noretry', 'post', 'close'] as const) : (['keepalive', 'close'] as const)
  const loads = clients.map((mode) => {
    const child = spawn(process.execPath, [join(here, 'load-client.mjs'), String(nginx.port), 'web.example.com',
      String(mode === 'keepalive' || mode === 'noretry' ? CONNS : mode === 'post' ? CONNS / 2 : CONNS / 4), '900000', mode], { stdio: ['pipe', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { text += c })
    const done = new Promise<Sample[]>((resolve) => child.on('exit', () => {
      resolve(text === '' ? [] : (JSON.parse(text) as { samples: Sample[] }).samples)
    }))
    t.teardown(() => { if (child.exitCode == null) child.kill('SIGKILL') })
    return { mode, child, done }
  })
  await new Promise((resolve) => setTimeout(resolve, STEADY_MS))
  const reloads0 = await reloadsOk(renderer)
  const churnStart = Date.now()
  const kinds = { stop: 0, kill: 0, move: 0 }
  const timeline: Array<[number, string]> = []
  for (let i = 0; i < CYCLES; i++) {
    const slot = i % 3
    const kind = (['stop', 'kill', 'move'] as const)[Math.floor(i / 3) % 3]
    kinds[kind]++
    const old = replicas[slot]
    timeline.push([Date.now(), `cycle ${i} ${kind} ${old.ip}`])
    let fresh: Replica
    // A planned stop drains first, as the reconciler does: the endpoint is
    // published `draining`, and the container stops once no renderer routes
    // it. A `docker kill` is unplanned.
    const drainThenStop = async (): Promise<void> => {
      await agents[old.host].markDraining(old.id, 'web')
      await waitRouted(old.id, false, `cycle ${i}: drained`)
      await tb.stop(old.host + 1, old.id, 5)
    }
    if (kind === 'move') {
      // A planned move starts the new replica first, then stops the old one.
      fresh = await runReplica(hostIndex(old.host + 1))
      await waitRouted(fresh.id, true, `cycle ${i}: new replica routed`)
      await drainThenStop()
    } else {
      if (kind === 'stop') await drainThenStop()
      else await tb.kill(old.host + 1, old.id)
      fresh = await runReplica(old.host)
      await waitRouted(fresh.id, true, `cycle ${i}: new replica routed`)
    }
    await waitRouted(old.id, false, `cycle ${i}: old replica gone`)
    t.not(fresh.ip, old.ip, `cycle ${i} (${kind}): new IP ${fresh.ip} (was ${old.ip})`)
    await tb.rm(old.host + 1, old.id)
    replicas[slot] = fresh
  }
  const churnEnd = Date.now()
  const reloads = (await reloadsOk(renderer)) - reloads0
  await new Promise((resolve) => setTimeout(resolve, 1000))
  for (const l of loads) l.child.stdin.end()
  const results = await Promise.all(loads.map(async (l) => ({ mode: l.mode, samples: await l.done })))
  t.comment(`${mode} churn: ${CYCLES} cycles (${kinds.stop} docker stop, ${kinds.kill} docker kill, ${kinds.move} moves) in ${((churnEnd - churnStart) / 1000).toFixed(1)} s, ${reloads} reloads during churn`)
  const cycleOf = (at: number): string => [...timeline].reverse().find(([when]) => when <= at)?.[1] ?? 'steady state'
  const failed: Sample[] = []
  let steady: Sample[] = []; let churn: Sample[] = []
  for (const { mode: client, samples } of results) {
    const st = samples.filter((s) => s[0] < churnStart)
    const ch = samples.filter((s) => s[0] >= churnStart && s[0] <= churnEnd)
    t.comment(`${client} steady:       ${summary(st, STEADY_MS)}`)
    t.comment(`${client} during churn: ${summary(ch, churnEnd - churnStart)}`)
    const bad = samples.filter((s) => s[2] < 200 || s[2] > 299)
    if (client === 'post') {
      // a POST in flight on a container that `docker kill` ends cannot be saved by anyone
      const onKill = bad.filter((s) => / kill /.test(cycleOf(s[0])))
      t.comment(`post: ${onKill.length} failed during docker kill cycles (in flight on the killed container)`)
      failed.push(...bad.filter((s) => !onKill.includes(s)))
    } else failed.push(...bad)
    steady = steady.concat(st); churn = churn.concat(ch)
  }
  if (mode === 'lua') t.equal(reloads, 0, 'lua mode: 0 reloads during churn')
  if (failed.length > 0) {
    t.comment(`failures: ${JSON.stringify(failed.slice(0, 10))}`)
    for (const f of failed.slice(0, 10)) t.comment(`failure at ${new Date(f[0]).toISOString()}: during ${cycleOf(f[0])}`)
    const { readFileSync } = await import('node:fs')
    const errors = readFileSync(nginx.errorLog, 'utf8').split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l))
    t.comment(`nginx error log (${errors.length} error lines, last 10):\n${errors.slice(-10).join('\n')}`)
  }
  t.ok(steady.length > 0 && churn.length > 0)
  t.equal(failed.length, 0, '0 failed requests (non-2xx or socket errors)')
}
