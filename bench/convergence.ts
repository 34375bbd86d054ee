// Convergence: Docker start event → first request served by the new
// container through nginx, over BENCH_N events (default 100), on a real
// testbed with agent, registry, renderer and nginx. Each event takes the
// service from no live endpoint (nginx answers 503) to one new container on a
// new IP, so "served by the new container" is unambiguous. In the same run,
// the bare reload time of the same config (SIGHUP → new generation served).
//   node --import=@tapjs/typescript/import bench/convergence.ts
//   env: BENCH_N (default 100). Goal: p50 ≤ 250 ms and p50 ratio ≤ 1.5.
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'nats'
import { Testbed, startNats, startNginx, freePort, waitFor } from '../test/harness/index.js'
import { decodeJson } from '../src/bus/index.js'
import { silentLogger } from '../src/core/index.js'
import { createRenderer, NginxController, STATUS_FILE, fetchGeneration } from '../src/renderer/index.js'
import { createAgent, resolveAgentConfig } from '../src/agent/index.js'
import { createRegistry, resolveRegistryConfig } from '../src/registry/index.js'
import type { EventMessage } from '../src/core/index.js'
import { exampleHttpBody, get } from '../test/integration/renderer-fixtures.js'

const N = Number(process.env.BENCH_N ?? 100)
const now = (): number => performance.timeOrigin + performance.now()
function pct (values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

const log = silentLogger()
const tb = await Testbed.create({ hosts: 1, name: 'conv' })
const nats = await startNats()
const out = mkdtempSync(join(tmpdir(), 'dg-conv-out-'))
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody() })
const nc = await connect({ servers: nats.url })
const registry = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, nats: nats.url }), { nc, log, components: [] })
const agent = createAgent(resolveAgentConfig({ ipamDriver: false, hostId: tb.hosts[0].name, docker: tb.hosts[0].socketPath, nats: nats.url, network: 'mv0' }), { log })
const statusPort = await freePort()
const renderer = createRenderer({
  id: 'conv', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
  statusPort, minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 10_000, announceIntervalMs: 5000,
}, { nc, log })

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

try {
  await registry.start()
  await agent.start()
  await renderer.start()
  const base = tb.hosts[0].ipRange.split('/')[0].split('.').map(Number)
  const conv: number[] = []
  for (let i = 0; i < N; i++) {
    const ip = `${base[0]}.${base[1]}.${base[2]}.${base[3] + 2 + (i % 28)}`
    let servedAt = 0
    let polling = true
    const poller = (async () => {
      while (polling) {
        const r = await get(nginx.port, 'conv', '/', 2000)
        if (r.status === 200 && r.body.includes(`"${ip}"`)) { servedAt = now(); return }
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
    })()
    const id = await tb.run(1, { labels: { 'driftgate.service': 'conv' }, ip })
    await waitFor(() => servedAt > 0, { what: `event ${i} served`, timeoutMs: 30_000, intervalMs: 5 })
    polling = false
    await poller
    const started = await waitFor(() => startTimes.get(id), { what: 'start event', timeoutMs: 10_000 })
    conv.push(servedAt - started)
    await tb.rm(1, id)
    await waitFor(async () => (await get(nginx.port, 'conv')).status === 503, { what: 'back to 503', timeoutMs: 30_000, intervalMs: 20 })
  }
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
    // the same 2 ms polling as the convergence loop above
    while ((await fetchGeneration(statusPort)) !== gen) {
      if (now() - t0 > 10_000) throw new Error(`bare reload ${gen} not served after 10 s`)
      await new Promise((resolve) => setTimeout(resolve, 2))
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
  const f = (v: number): string => `${v.toFixed(0)} ms`
  console.log(`convergence (Docker start event → first request served by the new container), ${conv.length} events: ` +
    `p50 ${f(pct(conv, 50))}, p90 ${f(pct(conv, 90))}, p99 ${f(pct(conv, 99))}, max ${f(Math.max(...conv))}`)
  console.log(`bare reload (SIGHUP → new generation served), ${bare.length} reloads: p50 ${f(pct(bare, 50))}, p99 ${f(pct(bare, 99))}`)
  console.log(`ratio at p50: ${(pct(conv, 50) / pct(bare, 50)).toFixed(2)} (goal ≤ 1.5); p50 goal ≤ 250 ms: ${pct(conv, 50) <= 250 ? 'met' : 'missed'}`)
  const rss = Math.round(process.memoryUsage().rss / 1e6)
  console.log(`nginx -t alone, 30 runs: p50 ${pct(tests, 50).toFixed(1)} ms through the fork server, ` +
    `${pct(spawned, 50).toFixed(1)} ms spawned from this ${rss} MB process`)
  console.log(`floor set by nginx -t before every reload (nothing else): ratio ${((pct(tests, 50) + pct(bare, 50)) / pct(bare, 50)).toFixed(2)}`)
  const m = await renderer.registry.metrics()
  const line = (name: string): string => m.split('\n').filter((l) => l.startsWith(name) && !l.includes('_bucket')).join('; ')
  console.log(`renderer: ${line('driftgate_renderer_reload_duration_seconds')} | ${line('driftgate_renderer_convergence_seconds')}`)
} finally {
  sub.unsubscribe()
  await renderer.close()
  await agent.close()
  await registry.close()
  await nc.close()
  await nginx.stop()
  await nats.stop()
  await tb.teardown()
  rmSync(out, { recursive: true, force: true })
}
