// `driftgate registry` as a real process with its built-in sub-components
// (lookup HTTP/DNS, IPAM): starts, applies an event, serves /metrics, and
// exits 0 on SIGTERM; a SIGKILLed instance's work is picked up by the next.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'nats'
import { startNats, freePort, waitFor } from '../harness/index.js'
import { ScriptedAgent, liveTable, endpoint, cid } from './registry-fixtures.js'
import { ensureStream } from '../../src/bus/index.js'

const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close() })
await ensureStream(await nc.jetstreamManager())

const children = new Set<ChildProcess>()
t.teardown(() => { for (const c of children) c.kill('SIGKILL') })

async function startCli (): Promise<{ child: ChildProcess, out: () => string, metricsPort: number, httpPort: number }> {
  const [metricsPort, httpPort, dnsPort] = [await freePort(), await freePort(), await freePort()]
  const child = spawn(process.execPath, ['--import=tsx', 'src/cli/main.ts', 'registry',
    '--nats', nats.url, '--http-port', String(httpPort), '--dns-port', String(dnsPort), '--metrics-port', String(metricsPort),
    '--host-grace', '20s', '--api-token', 'test-token'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DRIFTGATE_HEARTBEAT_INTERVAL: '1s' } })
  children.add(child)
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor(() => out.includes('registry started') || child.exitCode != null, { timeoutMs: 60_000, what: 'registry started' })
  if (child.exitCode != null) throw new Error(`registry exited: ${out}`)
  return { child, out: () => out, metricsPort, httpPort }
}

t.test('runs, applies, serves metrics and the API, stops cleanly on SIGTERM', async (t) => {
  const r = await startCli()
  t.match(r.out(), /"components":\[.*"ipam".*"lookup".*\]/, 'lookup and IPAM run inside')
  const agent = new ScriptedAgent(nc, 'h1')
  await agent.upsert(endpoint('web', 1))
  await waitFor(async () => (await liveTable(nc)).has(`web.${cid(1)}`), { timeoutMs: 20_000, what: 'applied' })
  const metrics = await (await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`)).text()
  t.match(metrics, /driftgate_registry_events_applied_total\{kind="put",source="event",role="registry"\} 1/)
  const api = await fetch(`http://127.0.0.1:${r.httpPort}/v1/services/web/endpoints`).catch(() => null)
  t.ok(api != null, `lookup API answers (${api?.status ?? 'no answer'})`)
  const exited = new Promise<number | null>((resolve) => r.child.once('exit', (code) => resolve(code)))
  r.child.kill('SIGTERM')
  t.equal(await exited, 0, 'exit code 0')
})

t.test('a SIGKILLed instance: events left in flight are applied by the next one', async (t) => {
  const r1 = await startCli()
  const agent = new ScriptedAgent(nc, 'h2')
  for (let n = 100; n < 300; n++) await agent.upsert(endpoint('crash', n))
  r1.child.kill('SIGKILL')
  for (let n = 300; n < 400; n++) await agent.upsert(endpoint('crash', n))
  await startCli() // unacked messages come back after ack wait (30 s by default)
  await waitFor(async () => [...(await liveTable(nc)).keys()].filter((k) => k.startsWith('crash.')).length === 300,
    { timeoutMs: 90_000, intervalMs: 500, what: '300 endpoints' })
  t.pass('all 300 applied')
})
