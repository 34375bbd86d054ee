// The headline: a 3-replica service behind nginx keeps answering while its
// containers are stopped, killed and moved 50 times, each time coming back
// with a new MacVLAN IP. Real dockerd ×3 (testbed), nats-server, agents,
// registry, renderer and nginx. Load comes from a separate process.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from 'nats'
import { Testbed, startNats, startNginx, freePort, waitFor } from '../harness/index.js'
import { silentLogger } from '../../src/core/index.js'
import { createRenderer } from '../../src/renderer/index.js'
import { createAgent, resolveAgentConfig } from '../../src/agent/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { exampleHttpBody, get } from '../integration/renderer-fixtures.js'

const CYCLES = Number(process.env.DG_CHURN_CYCLES ?? 50)
const STEADY_MS = 5000
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
const out = mkdtempSync(join(tmpdir(), 'dg-churn-out-'))
t.teardown(() => rmSync(out, { recursive: true, force: true }))
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody() })
t.teardown(async () => await nginx.stop())
const renderer = createRenderer({
  id: 'churn', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
  statusPort: await freePort(), minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 10_000, announceIntervalMs: 5000,
}, { nc, log })
await renderer.start()
t.teardown(async () => await renderer.close())

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

function summary (samples: Sample[]): string {
  const lat = samples.map((s) => s[1])
  // Not Math.max(...lat): spreading 120k+ samples overflows the call stack.
  const failed = samples.filter((s) => s[2] < 200 || s[2] > 299).length
  const retried = samples.filter((s) => s[3] === 1).length
  return `${samples.length} requests, ${failed} failed, ${retried} retried after nginx closed an idle keep-alive connection, ` +
    `p50 ${percentile(lat, 0.5).toFixed(1)} ms, p99 ${percentile(lat, 0.99).toFixed(1)} ms, max ${lat.reduce((m, x) => (x > m ? x : m), 0).toFixed(1)} ms`
}

t.test(`${CYCLES} stop/kill/move cycles under load: 0 failed requests`, async (t) => {
  const replicas: Replica[] = []
  for (let h = 0; h < 3; h++) replicas.push(await runReplica(h))
  for (const r of replicas) await waitRouted(r.id, true, `replica ${r.ip} routed`)
  t.equal((await get(nginx.port, 'web.example.com')).status, 200)

  // Two clients: keep-alive (4 connections) and one connection per request (2).
  const loads = (['keepalive', 'close'] as const).map((mode) => {
    const child = spawn(process.execPath, [join(here, 'load-client.mjs'), String(nginx.port), 'web.example.com',
      mode === 'keepalive' ? '4' : '2', '900000', mode], { stdio: ['pipe', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { text += c })
    const done = new Promise<Sample[]>((resolve) => child.on('exit', () => {
      resolve(text === '' ? [] : (JSON.parse(text) as { samples: Sample[] }).samples)
    }))
    t.teardown(() => { if (child.exitCode == null) child.kill('SIGKILL') })
    return { mode, child, done }
  })
  await new Promise((resolve) => setTimeout(resolve, STEADY_MS))
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
    if (kind === 'move') {
      // A planned move starts the new replica first, then stops the old one.
      fresh = await runReplica(hostIndex(old.host + 1))
      await waitRouted(fresh.id, true, `cycle ${i}: new replica routed`)
      await tb.stop(old.host + 1, old.id, 5)
    } else {
      if (kind === 'stop') await tb.stop(old.host + 1, old.id, 5)
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
  await new Promise((resolve) => setTimeout(resolve, 1000))
  for (const l of loads) l.child.stdin.end()
  const results = await Promise.all(loads.map(async (l) => ({ mode: l.mode, samples: await l.done })))
  t.comment(`churn: ${CYCLES} cycles (${kinds.stop} docker stop, ${kinds.kill} docker kill, ${kinds.move} moves) in ${((churnEnd - churnStart) / 1000).toFixed(1)} s, ${renderer.generation} reloads in all`)
  const failed: Sample[] = []
  let steady: Sample[] = []; let churn: Sample[] = []
  for (const { mode, samples } of results) {
    const st = samples.filter((s) => s[0] < churnStart)
    const ch = samples.filter((s) => s[0] >= churnStart && s[0] <= churnEnd)
    t.comment(`${mode} steady:       ${summary(st)}`)
    t.comment(`${mode} during churn: ${summary(ch)}`)
    failed.push(...samples.filter((s) => s[2] < 200 || s[2] > 299))
    steady = steady.concat(st); churn = churn.concat(ch)
  }
  if (failed.length > 0) {
    t.comment(`failures: ${JSON.stringify(failed.slice(0, 10))}`)
    for (const f of failed.slice(0, 10)) {
      const cycle = [...timeline].reverse().find(([at]) => at <= f[0])
      t.comment(`failure at ${new Date(f[0]).toISOString()}: during ${cycle?.[1] ?? 'steady state'}`)
    }
    const { readFileSync } = await import('node:fs')
    const errors = readFileSync(nginx.errorLog, 'utf8').split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l))
    t.comment(`nginx error log (${errors.length} error lines, last 10):\n${errors.slice(-10).join('\n')}`)
  }
  t.ok(steady.length > 0 && churn.length > 0)
  t.equal(failed.length, 0, '0 failed requests (non-2xx or socket errors)')
})
