// Convergence: Docker start event → first request served by the new
// container through nginx, over BENCH_N events (default 100), on a real
// testbed with agent, registry, renderer and nginx. Each event takes the
// service from no live endpoint (nginx answers 503) to one new container on a
// new IP, so "served by the new container" is unambiguous. In the same run,
// the bare reload time of the same config (SIGHUP → new generation served).
// Both renderer modes side by side (each its own nginx and renderer, same
// testbed, agent and registry), and the renderer's own share: the endpoint
// record seen on NATS (as the renderer sees it) → first request served.
// The renderer runs as its own process (the CLI from dist/: `npm run build`
// first), so its share is not its neighbours' (the agent and registry run
// here); its debug line "endpoints pushed" reports when it saw the change and
// when nginx answered the push. The stopwatch also asks the new container
// directly, so the share can be stated from when the container could answer.
//   npm run bench -- bench/convergence.ts
//   env: BENCH_N (default 100), BENCH_MODES (default lua,file),
//   BENCH_CPU_PROF=<dir>: the renderer writes a V8 CPU profile there;
//   BENCH_STOPWATCH_CONNS (default 2): the stopwatch's connections to nginx;
//   BENCH_VERBOSE=1: one line per event on stderr;
//   BENCH_WORKERS (default 1): nginx worker_processes (Debian's own
//   nginx.conf says `auto`, i.e. one per core);
//   BENCH_HEALTH=1: each mode also runs health-gated (`<mode>+health`): the
//   containers carry driftgate.health.http=/healthz (interval 100 ms), and
//   the share is taken from the `healthy` record seen (the agent's first
//   passing probe) → first request served. Whether the `starting` record
//   before it was routed already is counted and printed (invariant 5 routes
//   everything `running` and not `unhealthy`).
//   Goals: lua p50 ≤ 1.0 × a bare reload; renderer's share p50 ≤ 2 ms, p99 ≤ 10 ms.
import { execFile, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { appendFileSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from 'nats'
import { Testbed, startNats, startNginx, freePort, waitFor } from '../test/harness/index.js'
import { decodeJson } from '../src/bus/index.js'
import type { EndpointRecord } from '../src/core/index.js'
import { silentLogger } from '../src/core/index.js'
import { NginxController, STATUS_FILE, fetchGeneration } from '../src/renderer/index.js'
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
const HEALTH = process.env.BENCH_HEALTH === '1'
const WORKERS = Math.max(1, Math.min(8, Number(process.env.BENCH_WORKERS ?? 1)))
/** The test image's health endpoint, probed by the agent every 100 ms (its floor). */
const HEALTH_LABELS = { 'driftgate.health.http': '/healthz', 'driftgate.health.interval': '100ms' }
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
// The first record with the agent's verdict `healthy`, and the health of the first running record.
const kvHealthy = new Map<string, number>()
const firstHealth = new Map<string, string>()
/** Tells the running stopwatch that an address may be routed from now on. */
const routable: { hot: ((ip: string) => void) | null } = { hot: null }
const kvSub = nc.subscribe('$KV.driftgate_endpoints.conv.>')
void (async () => {
  for await (const m of kvSub) {
    const d = decodeJson(m.data)
    const e = d.ok ? d.value as EndpointRecord : null
    if (e?.state !== 'running' || e.removed === true) continue
    if (!kvSeen.has(e.containerId)) { kvSeen.set(e.containerId, now()); firstHealth.set(e.containerId, e.health); routable.hot?.(e.ip) }
    if (e.health === 'healthy' && !kvHealthy.has(e.containerId)) kvHealthy.set(e.containerId, now())
  }
})()

/**
 * The stopwatch (bench/first-served.mjs) in its own process: back-to-back
 * keep-alive requests with no sleep from the moment this process sees the
 * endpoint record on NATS (`hot`), so "first request served" is within one
 * request's time (~0.2 ms) of the moment nginx could serve it, not within a
 * polling interval of this busy process; one request per 10 ms before that.
 */
interface Served { at: number, direct: number }
function stopwatch (port: number): { watch: (ip: string) => Promise<Served>, direct: (ip: string) => void, hot: (ip: string) => void, close: () => void } {
  const child = spawn(process.execPath, [join(here, 'first-served.mjs'), String(port), 'conv', process.env.BENCH_STOPWATCH_CONNS ?? '2'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const waiting = new Map<string, (s: Served) => void>()
  createInterface({ input: child.stdout }).on('line', (line) => {
    const [what, ip, at, direct] = line.split(' ')
    if (what === 'served') waiting.get(ip)?.({ at: Number(at), direct: Number(direct) })
  })
  return {
    watch: async (ip) => await new Promise<Served>((resolve) => {
      waiting.set(ip, (r) => { waiting.delete(ip); resolve(r) })
      child.stdin.write(`watch ${ip}\n`)
    }),
    direct: (ip) => { child.stdin.write(`direct ${ip}\n`) },
    hot: (ip) => { child.stdin.write(`hot ${ip}\n`) },
    close: () => { child.stdin.end(); child.kill() },
  }
}

const f = (v: number): string => `${v.toFixed(0)} ms`
const f1 = (v: number): string => `${v.toFixed(1)} ms`

const here = dirname(fileURLToPath(import.meta.url))
const MAIN = join(here, '..', 'dist', 'src', 'cli', 'main.js')

/** The renderer's pushes, from its "endpoints pushed" lines: [change seen, push answered], epoch ms. */
interface Push { changeAt: number, at: number, ms: number }

/** `driftgate renderer` from dist/, in its own process. */
function spawnRenderer (args: string[]): { pushes: Push[], metrics: () => Promise<string>, stop: () => Promise<void> } {
  const prof = process.env.BENCH_CPU_PROF
  const child = spawn(process.execPath, [...(prof != null ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), MAIN, 'renderer', ...args, '--log-level', 'debug'],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  const pushes: Push[] = []
  const logFile = process.env.BENCH_RENDERER_LOG
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (logFile != null) appendFileSync(logFile, line + '\n')
    if (!line.includes('"endpoints pushed"')) return
    const l = JSON.parse(line) as { at?: number, changeAt?: number, ms: number }
    if (l.at != null && l.changeAt != null) pushes.push({ changeAt: l.changeAt, at: l.at, ms: l.ms })
  })
  const metricsPort = Number(args[args.indexOf('--metrics-port') + 1])
  return {
    pushes,
    metrics: async () => await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
    stop: async () => {
      if (child.exitCode != null) return
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM') // a clean exit writes the CPU profile
      await gone
    },
  }
}
const metric = (text: string, name: string): number =>
  [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0)

/** Health-gated rows: when the agent's `healthy` record came, and whether it was what got the container routed. */
interface GateStats {
  toHealthy: number[]
  healthyToServed: number[]
  byHealthyPush: number
  servedFirst: number
  neverHealthy: number
  firstHealth: Map<string, number>
  pushesPerEvent: number[]
  n: number
}
const newGateStats = (): GateStats => ({ toHealthy: [], healthyToServed: [], byHealthyPush: 0, servedFirst: 0, neverHealthy: 0, firstHealth: new Map(), pushesPerEvent: [], n: 0 })

interface GateEvent { id: string, i: number, started: number, servedAt: number, push: Push | undefined, pushes: () => number }
async function gateEvent (g: GateStats, e: GateEvent): Promise<void> {
  g.n++
  const h = firstHealth.get(e.id) ?? '?'
  g.firstHealth.set(h, (g.firstHealth.get(h) ?? 0) + 1)
  // the agent probes every 100 ms: healthy within ~1 s of being served, or its probes do not reach the container
  const healthyAt = await waitFor(() => kvHealthy.get(e.id), { what: `event ${e.i} healthy`, timeoutMs: 5_000, intervalMs: 5 }).catch(() => undefined)
  // a push for the healthy record, if the renderer makes one, comes within a few ms of it
  await new Promise((resolve) => setTimeout(resolve, 200))
  g.pushesPerEvent.push(e.pushes())
  if (healthyAt == null) { g.neverHealthy++; return }
  g.toHealthy.push(healthyAt - e.started)
  g.healthyToServed.push(e.servedAt - healthyAt)
  if (e.servedAt < healthyAt) g.servedFirst++
  // the push that served it was the renderer's answer to the healthy record (seen by the renderer ±5 ms of the bench)
  if (e.push != null && e.push.changeAt >= healthyAt - 5) g.byHealthyPush++
}

function gateLines (row: string, g: GateStats): string[] {
  const first = [...g.firstHealth].map(([h, c]) => `${h} ×${c}`).join(', ')
  const d = (v: number[]): string => v.length > 0 ? `p50 ${f1(pct(v, 50))}, p99 ${f1(pct(v, 99))}, min ${f1(Math.min(...v))}` : 'none'
  return [
    `${row}: health gate, ${g.n} events: the first running record's health: ${first}; ${g.n - g.neverHealthy} reached \`healthy\` ` +
      `(Docker start → healthy record ${d(g.toHealthy)}), ${g.neverHealthy} never within 5 s`,
    `${row}:   healthy record seen → first request served: ${d(g.healthyToServed)}; served BEFORE the healthy record in ${g.servedFirst} of ${g.healthyToServed.length}; ` +
      `the push that served it saw a change no earlier than the healthy record (−5 ms) in ${g.byHealthyPush}; renderer pushes per event (start → healthy + 200 ms) p50 ${pct(g.pushesPerEvent, 50)}, max ${Math.max(...g.pushesPerEvent)}`,
  ]
}

async function runMode (mode: 'lua' | 'file', health = false): Promise<string[]> {
  const row = health ? `${mode}+health` : mode
  const out = mkdtempSync(join(tmpdir(), `dg-conv-${mode}-`))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: mode === 'lua', workerProcesses: WORKERS })
  const statusPort = await freePort()
  const renderer = spawnRenderer(['--nats', nats.url, '--id', 'conv', '--out', out, '--nginx-conf', nginx.confPath, '--nginx-prefix', `${nginx.prefix}/`,
    '--nginx-bin', '/usr/sbin/nginx', '--status-port', String(statusPort), '--mode', mode, '--metrics-port', String(await freePort()), '--stats-interval', '0s', '--host-prefix'])
  try {
    await waitFor(async () => metric(await renderer.metrics().catch(() => ''), 'driftgate_renderer_generation') > 0, { what: 'first apply', timeoutMs: 30_000 })
    const base = tb.hosts[0].ipRange.split('/')[0].split('.').map(Number)
    const lines: string[] = []
    const conv: number[] = []
    const share: number[] = []
    const shareBench: number[] = []
    const shareDirect: number[] = []
    const lateContainer: number[] = []
    const toPush: number[] = []
    const roundTrip: number[] = []
    const toServe: number[] = []
    const directAfterPush: number[] = []
    const gate = newGateStats()
    const watch = stopwatch(nginx.port)
    routable.hot = watch.hot
    // event 0 is the service appearing (lua mode reloads for its upstream
    // block); the events after it are endpoint changes only
    for (let i = 0; i < N; i++) {
      const ip = `${base[0]}.${base[1]}.${base[2]}.${base[3] + 2 + (i % 28)}`
      let servedAt = 0
      let directAt = 0
      const served = watch.watch(ip).then((r) => { servedAt = r.at; directAt = r.direct })
      const pushesBefore = renderer.pushes.length
      const id = await tb.run(1, { labels: { 'driftgate.service': 'conv', ...(health ? HEALTH_LABELS : {}) }, ip })
      watch.direct(ip)
      await waitFor(() => servedAt > 0, { what: `event ${i} served`, timeoutMs: 30_000, intervalMs: 5 })
      await served
      const started = await waitFor(() => startTimes.get(id), { what: 'start event', timeoutMs: 10_000 })
      conv.push(servedAt - started)
      const seen = kvSeen.get(id)
      if (seen != null) shareBench.push(servedAt - seen)
      // the renderer's push that served it: the last one whose change was
      // seen before the first request served (nginx may serve before the
      // renderer's process has read the push's answer: pushed → served < 0)
      // Only this event's pushes (from `docker run` on): a renderer that read
      // the answer > 100 ms late must not get the previous event's removal.
      // Its line may reach this process after the first request was served.
      await waitFor(() => renderer.pushes.slice(pushesBefore).some((p) => p.changeAt <= servedAt), { what: 'push line', timeoutMs: 2_000, intervalMs: 5 }).catch(() => {})
      const ours = renderer.pushes.slice(pushesBefore).filter((p) => p.changeAt <= servedAt)
      const push = [...ours].reverse().find((p) => p.at <= servedAt + 100) ?? ours[0]
      if (health) await gateEvent(gate, { id, i, started, servedAt, push, pushes: () => renderer.pushes.length - pushesBefore })
      if (push != null && (mode === 'file' || i > 0)) {
        share.push(servedAt - push.changeAt)
        toPush.push(push.at - push.changeAt)
        roundTrip.push(push.ms)
        toServe.push(servedAt - push.at)
        // from when both the change was seen and the container could answer:
        // its first direct answer, or being served through nginx if the
        // direct probe (started when `docker run` returned) came later
        const listening = directAt > 0 ? Math.min(directAt, servedAt) : servedAt
        shareDirect.push(servedAt - Math.max(push.changeAt, listening))
        lateContainer.push(Math.max(0, listening - push.at))
        directAfterPush.push(listening > push.at ? 1 : 0)
        if (process.env.BENCH_VERBOSE != null) {
          console.error(`event ${i} ${ip}: seen→pushed ${f1(push.at - push.changeAt)}, pushed→served ${f1(servedAt - push.at)}, ` +
            `direct answer ${directAt > 0 ? f1(directAt - push.at) : 'none'} after the push`)
        }
      }
      await tb.rm(1, id)
      await waitFor(async () => (await get(nginx.port, 'conv')).status === 503, { what: 'back to 503', timeoutMs: 30_000, intervalMs: 20 })
    }
    watch.close()
    routable.hot = null
    if (health) lines.push(...gateLines(row, gate))
    const m = await renderer.metrics()
    const reloads = [...m.matchAll(/^driftgate_renderer_reloads_total\{[^}]*result="ok"[^}]*\} (\S+)$/gm)].reduce((a, x) => a + Number(x[1]), 0)
    const generation = metric(m, 'driftgate_renderer_generation')
    await renderer.stop()

    // Bare reloads of the same config: only the generation in the status file changes.
    const ctl = new NginxController({ bin: '/usr/sbin/nginx', conf: nginx.confPath, prefix: `${nginx.prefix}/`, statusPort, reloadTimeoutMs: 10_000 })
    const statusPath = join(out, STATUS_FILE)
    const statusText = readFileSync(statusPath, 'utf8')
    let gen = generation + 1000
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
      `${row}: convergence (Docker start event → first request served by the new container), ${conv.length} events: ` +
        `p50 ${f(pct(conv, 50))}, p90 ${f(pct(conv, 90))}, p99 ${f(pct(conv, 99))}, max ${f(Math.max(...conv))}; ${reloads} reloads in all (start included)`,
      share.length > 0
        ? `${row}: renderer's share (the renderer sees the record's change → first request served), ${share.length} endpoint changes (event 0, the service appearing, left out): p50 ${f1(pct(share, 50))}, p99 ${f1(pct(share, 99))}` +
          ` (from the bench's own NATS subscription: p50 ${f1(pct(shareBench, 50))}, p99 ${f1(pct(shareBench, 99))})`
        : `${row}: renderer's share (record on the bench's NATS subscription → first request served), ${shareBench.length} events: p50 ${f1(pct(shareBench, 50))}, p99 ${f1(pct(shareBench, 99))}`,
      ...(toPush.length > 0
        ? [`${row}:   of which change seen → push answered ${f1(pct(toPush, 50))} p50, ${f1(pct(toPush, 99))} p99 (the push's own round trip ${f1(pct(roundTrip, 50))} / ${f1(pct(roundTrip, 99))}); ` +
            `push answered → served ${f1(pct(toServe, 50))} p50, ${f1(pct(toServe, 99))} p99 (< 0: served before the renderer read the answer)`,
            `${row}:   the container answered directly only after the push in ${directAfterPush.reduce((a, b) => a + b, 0)} of ${directAfterPush.length} events (by p50 ${f1(pct(lateContainer, 50))}, p99 ${f1(pct(lateContainer, 99))}); ` +
            `share from max(change seen, container answers directly) → served: p50 ${f1(pct(shareDirect, 50))}, p99 ${f1(pct(shareDirect, 99))}`]
        : []),
      `${row}: bare reload of the same config (SIGHUP → new generation served), ${bare.length} reloads: p50 ${f(pct(bare, 50))}, p99 ${f(pct(bare, 99))}`,
      `${row}: ratio at p50 convergence / bare reload: ${(pct(conv, 50) / pct(bare, 50)).toFixed(2)}`,
      `${row}: nginx -t alone, 30 runs: p50 ${pct(tests, 50).toFixed(1)} ms through the fork server, ${pct(spawned, 50).toFixed(1)} ms spawned from this ${rss} MB process`,
      ...lines,
    ]
  } finally {
    await renderer.stop()
    await nginx.stop()
    rmSync(out, { recursive: true, force: true })
  }
}

try {
  await registry.start()
  await agent.start()
  const lines: string[] = []
  for (const mode of MODES) {
    lines.push(...await runMode(mode))
    if (HEALTH) lines.push(...await runMode(mode, true))
  }
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
