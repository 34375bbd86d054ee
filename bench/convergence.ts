// Convergence: Docker start event → first request served by the new
// container through nginx, over BENCH_N events (default 100), on a real
// testbed with agent, registry, renderer and nginx. Each event takes the
// service from no live endpoint (nginx answers 503) to one new container on a
// new IP, so "served by the new container" is unambiguous. In the same run,
// the bare reload time of the same config (SIGHUP → new generation served).
// Both renderer modes side by side (each its own nginx and renderer, same
// testbed, agent and registry), and the renderer's own share: the endpoint
// record seen on NATS (as the renderer sees it) → first request served.
//   npm run bench -- bench/convergence.ts
//   env: BENCH_N (default 100), BENCH_MODES (default lua,file).
//   Goals: lua p50 ≤ 1.0 × a bare reload; renderer's share p50 ≤ 2 ms, p99 ≤ 10 ms.
import { execFile, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from 'nats'
import { Testbed, startNats, startNginx, freePort, waitFor } from '../test/harness/index.js'
import { decodeJson } from '../src/bus/index.js'
import type { EndpointRecord } from '../src/core/index.js'
import { createLogger, silentLogger } from '../src/core/index.js'
import { createRenderer, NginxController, STATUS_FILE, fetchGeneration } from '../src/renderer/index.js'
import { createAgent, resolveAgentConfig } from '../src/agent/index.js'
import { createRegistry, resolveRegistryConfig } from '../src/registry/index.js'
import type { EventMessage } from '../src/core/index.js'
import { exampleHttpBody, get } from '../test/integration/renderer-fixtures.js'

const now = (): number => performance.timeOrigin + performance.now()
function pct (values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

const N = Number(process.env.BENCH_N ?? 100)
const MODES = (process.env.BENCH_MODES ?? 'lua,file').split(',') as Array<'lua' | 'file'>
const log = silentLogger()
const tb = await Testbed.create({ hosts: 1, name: 'conv' })
const nats = await startNats()
const nc = await connect({ servers: nats.url })
const registry = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, nats: nats.url }), { nc, log, components: [] })
const agent = createAgent(resolveAgentConfig({ ipamDriver: false, hostId: tb.hosts[0].name, docker: tb.hosts[0].socketPath, nats: nats.url, network: 'mv0' }), { log })

const startTimes = new Map<string, number>()
const sub = nc.subscribe('driftgate.events.*')
void (async () => {
  for await (const m of sub) {
    const d = decodeJson(m.data)
    const e = d.ok ? d.value as EventMessage : null
    if (e?.kind !== 'upsert') continue
    const id = e.endpoint.containerId
    // Docker's own time of the start event (the agent may announce a
    // container first from its network-connect event: take the earliest).
    const prev = startTimes.get(id)
    if (prev == null || e.time < prev) startTimes.set(id, e.time)
  }
})()
// When the endpoint record became routable in KV, seen on NATS as the renderer's watch sees it.
const kvSeen = new Map<string, number>()
const kvSub = nc.subscribe('$KV.driftgate_endpoints.conv.>')
void (async () => {
  for await (const m of kvSub) {
    const d = decodeJson(m.data)
    const e = d.ok ? d.value as EndpointRecord : null
    if (e?.state === 'running' && e.removed !== true && !kvSeen.has(e.containerId)) kvSeen.set(e.containerId, now())
  }
})()

/**
 * The stopwatch (bench/first-served.mjs) in its own process: back-to-back
 * keep-alive requests with no sleep, so "first request served" is within one
 * request's time (~0.2 ms) of the moment nginx could serve it, not within a
 * polling interval of this busy process.
 */
function stopwatch (port: number): { watch: (ip: string) => Promise<number>, close: () => void } {
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'first-served.mjs'), String(port), 'conv', '2'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const waiting = new Map<string, (at: number) => void>()
  createInterface({ input: child.stdout }).on('line', (line) => {
    const [what, ip, at] = line.split(' ')
    if (what === 'served') waiting.get(ip)?.(Number(at))
  })
  return {
    watch: async (ip) => await new Promise<number>((resolve) => {
      waiting.set(ip, (at) => { waiting.delete(ip); resolve(at) })
      child.stdin.write(`watch ${ip}\n`)
    }),
    close: () => { child.stdin.end(); child.kill() },
  }
}

const f = (v: number): string => `${v.toFixed(0)} ms`
const f1 = (v: number): string => `${v.toFixed(1)} ms`

// When each push left the renderer (its debug line "endpoints pushed" is
// written synchronously as the push's answer arrives): splits the share into
// the renderer's part and nginx's part.
const pushedAt: number[] = []
const pushLog = createLogger({
  level: 'debug',
  destination: { write: (line: string) => { if (line.includes('"endpoints pushed"')) pushedAt.push(now()) } },
})
const firstAfter = (times: number[], t: number): number | undefined => times.find((x) => x >= t)

async function runMode (mode: 'lua' | 'file'): Promise<string[]> {
  const out = mkdtempSync(join(tmpdir(), `dg-conv-${mode}-`))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: mode === 'lua' })
  const statusPort = await freePort()
  const renderer = createRenderer({
    id: 'conv', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort, minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 10_000, announceIntervalMs: 5000, mode,
  }, { nc, log: pushLog })
  try {
    await renderer.start()
    await waitFor(() => renderer.generation > 0, { what: 'first apply' })
    const base = tb.hosts[0].ipRange.split('/')[0].split('.').map(Number)
    const conv: number[] = []
    const share: number[] = []
    const toPush: number[] = []
    const toServe: number[] = []
    const watch = stopwatch(nginx.port)
    for (let i = 0; i < N; i++) {
      const ip = `${base[0]}.${base[1]}.${base[2]}.${base[3] + 2 + (i % 28)}`
      let servedAt = 0
      const served = watch.watch(ip).then((at) => { servedAt = at })
      const id = await tb.run(1, { labels: { 'driftgate.service': 'conv' }, ip })
      await waitFor(() => servedAt > 0, { what: `event ${i} served`, timeoutMs: 30_000, intervalMs: 5 })
      await served
      const started = await waitFor(() => startTimes.get(id), { what: 'start event', timeoutMs: 10_000 })
      conv.push(servedAt - started)
      const seen = kvSeen.get(id)
      if (seen != null) {
        share.push(servedAt - seen)
        const pushed = firstAfter(pushedAt, seen)
        if (pushed != null && pushed <= servedAt) { toPush.push(pushed - seen); toServe.push(servedAt - pushed) }
      }
      await tb.rm(1, id)
      await waitFor(async () => (await get(nginx.port, 'conv')).status === 503, { what: 'back to 503', timeoutMs: 30_000, intervalMs: 20 })
    }
    watch.close()
    const m = await renderer.registry.metrics()
    const reloads = [...m.matchAll(/^driftgate_renderer_reloads_total\{[^}]*result="ok"[^}]*\} (\S+)$/gm)].reduce((a, x) => a + Number(x[1]), 0)
    await renderer.close()

    // Bare reloads of the same config: only the generation in the status file changes.
    const ctl = new NginxController({ bin: '/usr/sbin/nginx', conf: nginx.confPath, prefix: `${nginx.prefix}/`, statusPort, reloadTimeoutMs: 10_000 })
    const statusPath = join(out, STATUS_FILE)
    const statusText = readFileSync(statusPath, 'utf8')
    let gen = renderer.generation + 1000
    const bare: number[] = []
    for (let i = 0; i < N; i++) {
      // spaced like the events above, so old workers of the last reload are gone
      await new Promise((resolve) => setTimeout(resolve, 300))
      gen++
      writeFileSync(statusPath, statusText.replace(/return 200 "\d+\\n";/, `return 200 "${gen}\\n";`))
      const t0 = now()
      process.kill(await ctl.masterPid(), 'SIGHUP')
      // back-to-back requests, no sleep, like the stopwatch of the loop above
      while ((await fetchGeneration(statusPort)) !== gen) {
        if (now() - t0 > 10_000) throw new Error(`bare reload ${gen} not served after 10 s`)
      }
      bare.push(now() - t0)
    }
    // nginx -t alone, which invariant 4 puts before every reload: through the
    // renderer's fork server, and spawned from this (large) process as before.
    const tests: number[] = []
    const spawned: number[] = []
    for (let i = 0; i < 30; i++) {
      let t0 = performance.now()
      await ctl.test()
      tests.push(performance.now() - t0)
      t0 = performance.now()
      await new Promise((resolve) => execFile('/usr/sbin/nginx', ['-p', `${nginx.prefix}/`, '-c', nginx.confPath, '-t', '-q'], resolve))
      spawned.push(performance.now() - t0)
    }
    ctl.close()
    const rss = Math.round(process.memoryUsage().rss / 1e6)
    return [
      `${mode}: convergence (Docker start event → first request served by the new container), ${conv.length} events: ` +
        `p50 ${f(pct(conv, 50))}, p90 ${f(pct(conv, 90))}, p99 ${f(pct(conv, 99))}, max ${f(Math.max(...conv))}; ${reloads} reloads in all (start included)`,
      `${mode}: renderer's share (endpoint record on NATS → first request served), ${share.length} events: p50 ${f1(pct(share, 50))}, p99 ${f1(pct(share, 99))}`,
      ...(toPush.length > 0
        ? [`${mode}:   of which record seen → push answered ${f1(pct(toPush, 50))} p50, ${f1(pct(toPush, 99))} p99; push answered → served ${f1(pct(toServe, 50))} p50, ${f1(pct(toServe, 99))} p99`]
        : []),
      `${mode}: bare reload of the same config (SIGHUP → new generation served), ${bare.length} reloads: p50 ${f(pct(bare, 50))}, p99 ${f(pct(bare, 99))}`,
      `${mode}: ratio at p50 convergence / bare reload: ${(pct(conv, 50) / pct(bare, 50)).toFixed(2)}`,
      `${mode}: nginx -t alone, 30 runs: p50 ${pct(tests, 50).toFixed(1)} ms through the fork server, ${pct(spawned, 50).toFixed(1)} ms spawned from this ${rss} MB process`,
    ]
  } finally {
    await renderer.close()
    await nginx.stop()
    rmSync(out, { recursive: true, force: true })
  }
}

try {
  await registry.start()
  await agent.start()
  const lines: string[] = []
  for (const mode of MODES) lines.push(...await runMode(mode))
  for (const l of lines) console.log(l)
} finally {
  sub.unsubscribe()
  kvSub.unsubscribe()
  await agent.close()
  await registry.close()
  await nc.close()
  await nats.stop()
  await tb.teardown()
}
