// Service logs end to end (issue 18) on one 3-host testbed: real dockerd ×3,
// nats-server, three agents as `driftgate agent` processes (so one can be
// SIGKILLed), the registry's API and the `driftgate logs` CLI.
//  - web.1@h1, web.2@h2, web.3@h3 serve requests: `logs web --since 1m` lists
//    all three, in timestamp order, with their prefixes; `-f` shows a new
//    request's line within 1 s of Docker's timestamp; a removed replica's
//    lines are still listed.
//  - agent h1 SIGKILLed while a container logs, then restarted: every line
//    stored exactly once.
//  - NATS stopped 10 s while containers log: h1 (default budget) loses
//    nothing; h3 (4 KiB budget) drops, and the stream holds a marker whose
//    count plus the lines kept is every line.
//  - a container flooding on h2 does not delay another's lines by 1 s.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { connect, type JsMsg } from 'nats'
import { Testbed, cliArgs, startNats, freePort, waitFor } from '../harness/index.js'
import { silentLogger } from '../../src/core/index.js'
import { decodeJson, openLogReader } from '../../src/bus/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { killAndWait } from '../../src/lab/index.js'

const main = cliArgs()
const env = { ...process.env, NODE_OPTIONS: '', DRIFTGATE_API: undefined, DRIFTGATE_NATS: undefined, DRIFTGATE_TOKEN: undefined }

const tb = await Testbed.create({ hosts: 3, name: 'logs' })
t.teardown(async () => { await tb.teardown() })
const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const admin = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
t.teardown(async () => { await admin.close() })

const httpPort = await freePort()
const api = `http://127.0.0.1:${httpPort}`
const registry = createRegistry(resolveRegistryConfig({
  nats: nats.url, httpPort, httpHost: '127.0.0.1', dnsPort: 0, dnsHost: '127.0.0.1', placement: false, heartbeatInterval: '500ms',
}), { log: silentLogger() })
t.teardown(async () => { await registry.close() })
await registry.start()

const agents = new Map<string, ChildProcess>()
function startAgent (i: number, extraEnv: Record<string, string> = {}): ChildProcess {
  const h = tb.hosts[i]
  // setpriv --pdeathsig: an agent never outlives this test process, even a SIGKILLed one.
  const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', process.execPath, ...main, 'agent', '--host-id', h.name, '--docker', h.socketPath,
    '--nats', nats.url, '--no-ipam-driver', '--no-reconcile', '--network', 'mv0', '--heartbeat-interval', '500ms', '--log-level', 'warn'],
  { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'inherit'] })
  agents.set(h.name, child)
  return child
}
async function stopAgent (name: string, sig: NodeJS.Signals): Promise<void> {
  const c = agents.get(name)
  if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
  await new Promise((resolve) => { c.once('exit', resolve); c.kill(sig) })
}
t.teardown(async () => { for (const n of agents.keys()) await stopAgent(n, 'SIGTERM') })
const H3_ENV = { DRIFTGATE_LOGS_BUFFER_BYTES: '4096' }
startAgent(0); startAgent(1); startAgent(2, H3_ENV)

interface Line { t: string, s: string, m: string, n?: number }
/** Every stored line of the subjects matching `filter`, in stream order. */
async function stored (filter: string): Promise<Line[]> {
  const r = await openLogReader(admin, { filter })
  const out: Line[] = []
  try {
    if (r.pending === 0) return out
    for await (const m of r.messages as AsyncIterable<JsMsg>) {
      const d = decodeJson(m.data)
      if (d.ok) out.push(...(d.value as { lines: Line[] }).lines)
      if (m.info.pending === 0) break
    }
  } finally { await r.close() }
  return out
}

function cli (args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...main, ...args, '--api', api], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { err += c.toString() })
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`driftgate ${args.join(' ')}: ${code}\n${err}`))
    })
  })
}

const request = async (i: number, id: string, path: string): Promise<void> => {
  await tb.docker(tb.hosts[i])('exec', id, 'wget', '-qO', '/dev/null', `http://127.0.0.1${path}`)
}
/** A container that prints `<tag> 0` … `<tag> n-1`, `every` seconds apart, then idles. */
const counter = async (i: number, service: string, tag: string, n: number, every: string): Promise<string> =>
  await tb.run(tb.hosts[i], {
    labels: { 'driftgate.service': service },
    cmd: ['sh', '-c', `i=0; while [ $i -lt ${n} ]; do echo "${tag} $i"; i=$((i+1)); sleep ${every}; done; exec sleep 3600`],
  })

/** Every number 0..n-1 exactly once among the `<tag> k` lines. */
function exactlyOnce (t: { same: (a: unknown, b: unknown, msg: string) => void }, lines: Line[], tag: string, n: number): void {
  const seen = new Map<number, number>()
  for (const l of lines) {
    const m = new RegExp(`^${tag} (\\d+)$`).exec(l.m)
    if (m != null) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1)
  }
  const dup = [...seen].filter(([, c]) => c > 1).map(([k]) => k)
  const missing = Array.from({ length: n }, (_, k) => k).filter((k) => !seen.has(k))
  t.same({ dup: dup.slice(0, 10), missing: missing.slice(0, 10) }, { dup: [], missing: [] }, `${tag}: ${n} lines, each stored once`)
}

const web: string[] = []
t.test('three replicas on three hosts: merged by timestamp, prefixed, -f within 1 s, kept after removal', async (t) => {
  for (let i = 0; i < 3; i++) web.push(await tb.run(tb.hosts[i], { labels: { 'driftgate.service': 'web', 'driftgate.replica': String(i + 1) } }))
  for (let k = 0; k < 3; k++) for (let i = 0; i < 3; i++) await request(i, web[i], `/r${k}-h${i + 1}`)
  await waitFor(async () => (await stored('driftgate.logs.web.*.*')).filter((l) => /GET \/r2-h3/.test(l.m)).length === 1 &&
    (await stored('driftgate.logs.web.*.*')).filter((l) => /GET \/r\d-h\d/.test(l.m)).length === 9,
  { what: 'all nine request lines stored', timeoutMs: 15_000, intervalMs: 200 })

  const json = (await cli(['logs', 'web', '--since', '1m', '--json'])).trim().split('\n').map((l) => JSON.parse(l))
  const req = json.filter((e) => /GET \/r\d-h\d/.test(e.line))
  t.equal(req.length, 9, 'every request line once')
  const keys = json.map((e) => e.t.replace(/(\.\d+)?Z$/, (f: string) => (f.length > 1 ? f.slice(0, -1) : '.').padEnd(10, '0') + 'Z'))
  t.same(keys, [...keys].sort(), 'in timestamp order')
  for (const e of req) t.equal(`web.${e.replica}@${e.host}`, `web.${e.line.match(/-h(\d)/)[1]}@h${e.line.match(/-h(\d)/)[1]}`, `${e.line.split(' ')[1]} from its replica`)
  const text = await cli(['logs', 'web', '--since', '1m'])
  t.match(text, /^web\.1@h1 +\| GET \/r0-h1 200/m, 'prefix web.1@h1 |')
  t.match(text, /^web\.3@h3 +\| GET \/r2-h3 200/m, 'prefix web.3@h3 |')
  t.equal((await cli(['logs', 'web', '--since', '1m', '--tail', '2'])).trim().split('\n').length, 2, '--tail 2')
  t.match(await cli(['logs', 'web', '--since', '1m', '--host', 'h2']), /^(web\.2@h2 +\| .*\n)+$/, '--host h2: only web.2@h2')

  // -f: a new request's line within 1 s of Docker's timestamp.
  const f = spawn(process.execPath, [...main, 'logs', 'web', '-f', '--json', '--tail', '1', '--api', api], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { f.kill('SIGINT') })
  let buf = ''
  const arrived = new Map<string, number>()
  f.stdout.on('data', (c: Buffer) => {
    buf += c.toString()
    const lines = buf.split('\n'); buf = lines.pop() ?? ''
    for (const l of lines) arrived.set(JSON.parse(l).line, Date.now())
  })
  await waitFor(() => arrived.size > 0, { what: 'the follow history', timeoutMs: 10_000 })
  await request(1, web[1], '/follow-me')
  const got = await waitFor(() => [...arrived].find(([l]) => l.includes('/follow-me')), { what: 'the followed line', timeoutMs: 5000, intervalMs: 10 })
  t.ok(got[0].includes('GET /follow-me 200'))
  const fjson = await cli(['logs', 'web', '--since', '1m', '--json'])
  const t0 = Date.parse(JSON.parse(fjson.trim().split('\n').find((l) => l.includes('/follow-me')) ?? '{}').t)
  t.ok(got[1] - t0 < 1000, `-f printed the line ${got[1] - t0} ms after Docker's timestamp (< 1000)`)
  f.kill('SIGINT')

  await tb.docker(tb.hosts[1])('rm', '-f', web[1])
  t.match(await cli(['logs', 'web', '--since', '5m']), /^web\.2@h2 +\| GET \/r0-h2 200/m, 'the removed replica\'s lines are still listed')
})

t.test('agent killed while containers log, then restarted: every line exactly once', async (t) => {
  await counter(0, 'seq', 'kill', 400, '0.02')
  await waitFor(async () => (await stored('driftgate.logs.seq.h1.*')).length > 20, { what: 'first lines stored', timeoutMs: 10_000 })
  await stopAgent('h1', 'SIGKILL')
  await new Promise((resolve) => setTimeout(resolve, 3000))
  startAgent(0)
  await waitFor(async () => (await stored('driftgate.logs.seq.h1.*')).some((l) => l.m === 'kill 399'), { what: 'the last line stored', timeoutMs: 30_000, intervalMs: 300 })
  exactlyOnce(t, await stored('driftgate.logs.seq.h1.*'), 'kill', 400)
})

t.test('NATS stopped 10 s: nothing lost within the budget, drops counted and marked beyond it', async (t) => {
  await counter(0, 'out1', 'nats', 1500, '0.01')
  await counter(2, 'out3', 'nats', 1500, '0.01')
  await waitFor(async () => (await stored('driftgate.logs.out1.h1.*')).length > 0 && (await stored('driftgate.logs.out3.h3.*')).length > 0,
    { what: 'both containers followed', timeoutMs: 10_000 })
  // The process only (nats.stop() would remove the store too); restart() reuses port and store.
  await killAndWait([nats.pid], 'SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 10_000))
  await nats.restart()
  await waitFor(async () => (await stored('driftgate.logs.out1.h1.*')).some((l) => l.m === 'nats 1499') &&
    (await stored('driftgate.logs.out3.h3.*')).some((l) => l.m === 'nats 1499'), { what: 'both last lines stored', timeoutMs: 60_000, intervalMs: 500 })
  exactlyOnce(t, await stored('driftgate.logs.out1.h1.*'), 'nats', 1500)
  const h3 = await stored('driftgate.logs.out3.h3.*')
  const kept = h3.filter((l) => l.s === 'out' && /^nats \d+$/.test(l.m))
  const markers = h3.filter((l) => l.s === 'drop')
  const dropped = markers.reduce((n, l) => n + (l.n ?? 0), 0)
  t.ok(markers.length > 0 && dropped > 0, `h3's 4 KiB budget: ${dropped} lines dropped, marked: ${markers.map((m) => m.m).join('; ')}`)
  t.equal(new Set(kept.map((l) => l.m)).size, kept.length, 'no line stored twice')
  t.equal(kept.length + dropped, 1500, `${kept.length} kept + ${dropped} dropped = every line`)
})

t.test('a flooding container does not delay another container\'s lines by 1 s', async (t) => {
  const sub = admin.subscribe('driftgate.logs.tick.h2.*')
  const delays: number[] = []
  void (async () => {
    for await (const m of sub) {
      const d = decodeJson(m.data)
      if (d.ok) for (const l of (d.value as { lines: Line[] }).lines) if (l.s === 'out') delays.push(Date.now() - Date.parse(l.t))
    }
  })()
  await tb.run(tb.hosts[1], { labels: { 'driftgate.service': 'flood' }, cmd: ['sh', '-c', 'timeout 6 yes flood-line-of-some-length; exec sleep 3600'] })
  await counter(1, 'tick', 'tick', 40, '0.1')
  await waitFor(() => delays.length >= 40, { what: '40 tick lines', timeoutMs: 20_000 })
  sub.unsubscribe()
  const max = Math.max(...delays)
  t.ok(max < 1000, `tick lines arrived at most ${max} ms after Docker's timestamp while flood wrote (< 1000)`)
  // The marker follows the flood's next batch after the limiter's window: wait for it.
  const marked = await waitFor(async () => (await stored('driftgate.logs.flood.h2.*')).some((l) => l.s === 'drop' && /rate limit/.test(l.m)), { timeoutMs: 20_000, what: 'rate-limit marker' }).catch(() => false)
  t.ok(marked, 'the flood hit its rate limit, marked in the stream')
})
