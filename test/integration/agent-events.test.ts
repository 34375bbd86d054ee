// The agent against a real dockerd and nats-server: every change of a
// labelled container reaches NATS with the right IP within a second; restarts
// of dockerd and NATS are healed by snapshots without restarting the agent.
import t from 'tap'
import { sleep, waitFor } from '../harness/index.js'
import { checkEvent, checkHeartbeat, checkSnapshot } from '../../src/core/index.js'
import { setupFixture, NET, type Fixture } from './agent-fixtures.js'

const fx: Fixture = await setupFixture()
t.teardown(() => fx.teardown())
const { tb, rec } = fx
const h = tb.hosts[0]
const web = { 'driftgate.service': 'web' }
const started = Date.now()
fx.agent = await fx.startAgent()

const within1s = (t: { ok: (v: unknown, msg: string) => unknown }, m: { at: number, value: { time: number } }, what: string): void => {
  t.ok(m.at - m.value.time < 1000, `${what}: ${Math.round(m.at - m.value.time)} ms after Docker's event`)
}

t.test('first snapshot and heartbeats', async (t) => {
  const snap = await rec.waitSnapshot(started - 1)
  checkSnapshot(snap.value)
  t.equal(snap.value.instance, fx.agent.instance)
  const hb = await waitFor(() => rec.heartbeats().at(-1), { what: 'heartbeat' })
  checkHeartbeat(hb.value)
  t.ok(hb.value.capacity.cpus >= 1 && hb.value.capacity.memoryBytes > 0, 'capacity from docker info')
})

t.test('start → upsert with the container\'s MacVLAN IP within 1 s', async (t) => {
  const id = await tb.run(h, { labels: { ...web, 'driftgate.port': '80' }, args: ['--cpus', '0.5', '--memory', '64m'] })
  const ip = await tb.ipOf(h, id)
  const m = await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === id, 'upsert')
  checkEvent(m.value)
  t.match(m.value.endpoint, { service: 'web', ip, port: 80, network: NET, state: 'running', health: 'none' })
  within1s(t, m, 'start')
  const hb = await waitFor(() => rec.heartbeats().find((x) => x.value.allocated.cpus >= 0.5), { what: 'allocation in heartbeat' })
  t.ok(hb.value.allocated.memoryBytes >= 64 * 1024 * 1024, 'allocated memory reported')
})

t.test('an unlabelled container produces nothing', async (t) => {
  const id = await tb.run(h, {})
  await sleep(1500)
  t.same(rec.forContainer(id), [])
})

t.test('stop → draining, then remove, each within 1 s', async (t) => {
  const id = await tb.run(h, { labels: web })
  await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === id, 'upsert')
  await tb.stop(h, id, 5)
  const drain = await rec.waitEvent((v) => v.endpoint.containerId === id && v.endpoint.state === 'draining', 'draining')
  within1s(t, drain, 'draining')
  const rm = await rec.waitEvent((v) => v.kind === 'remove' && v.endpoint.containerId === id, 'remove')
  within1s(t, rm, 'remove')
  t.same(rm.value.endpoint, { service: 'web', containerId: id })
  t.ok(rm.value.seq > drain.value.seq)
})

t.test('kill → remove within 1 s; rm → no duplicate', async (t) => {
  const id = await tb.run(h, { labels: web })
  await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === id, 'upsert')
  await tb.kill(h, id)
  const rm = await rec.waitEvent((v) => v.kind === 'remove' && v.endpoint.containerId === id, 'remove')
  within1s(t, rm, 'kill')
  await tb.rm(h, id)
  await sleep(500)
  t.equal(rec.forContainer(id).filter((m) => m.value.kind === 'remove').length, 1)
})

t.test('network disconnect → remove; connect with a new IP → upsert with it', async (t) => {
  const id = await tb.run(h, { labels: web })
  const ip1 = await tb.ipOf(h, id)
  await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === id, 'upsert')
  await tb.docker(h)('network', 'disconnect', NET, id)
  const rm = await rec.waitEvent((v) => v.kind === 'remove' && v.endpoint.containerId === id, 'remove after disconnect')
  within1s(t, rm, 'disconnect')
  const wanted = ip1.replace(/\.\d+$/, '.250')
  await tb.docker(h)('network', 'connect', '--ip', wanted, NET, id)
  const up = await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === id && v.seq > rm.value.seq, 'upsert after connect')
  within1s(t, up, 'connect')
  t.equal(up.value.endpoint.ip, wanted)
  t.equal(await tb.ipOf(h, id), wanted)
})

t.test('a hostile service label is skipped with its reason; others keep flowing', async (t) => {
  const bad = await tb.run(h, { labels: { 'driftgate.service': 'x;}server{listen 1' } })
  const good = await tb.run(h, { labels: web })
  await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === good, 'upsert of the good one')
  t.same(rec.forContainer(bad), [])
  const metrics = await fx.agent.metrics.getSingleMetricAsString('driftgate_agent_rejected_containers_total')
  t.match(metrics, /reason="invalid_service"[^}]*} 1/)
  const snap = await (async () => { const at = Date.now(); void fx.agent.snapshotNow(); return await rec.waitSnapshot(at) })()
  t.notOk(snap.value.endpoints.some((e: any) => e.containerId === bad), 'not in snapshots either')
  t.ok(snap.value.endpoints.some((e: any) => e.containerId === good))
})

/** The IP the agent last announced for a container (events and snapshots, in arrival order). */
function lastAnnouncedIp (id: string): string | null | undefined {
  let ip: string | null | undefined
  for (const m of rec.msgs) {
    const v = m.value
    if (m.subject.includes('.events.') && v.endpoint.containerId === id) ip = v.kind === 'upsert' ? v.endpoint.ip : null
    if (m.subject.includes('.snapshot.')) ip = v.endpoints.find((e: any) => e.containerId === id)?.ip ?? null
  }
  return ip
}

t.test('containers gone while dockerd is down are gone from the next snapshot', async (t) => {
  const survivor = await tb.run(h, { labels: web, args: ['--restart', 'always'] })
  const victim = await tb.run(h, { labels: web })
  await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === victim, 'upsert')
  // The harness stops dockerd gracefully, which stops every container; only
  // the one with a restart policy comes back.
  await tb.stopDockerd(h)
  const stopped = Date.now() // any snapshot from now on was listed by the restarted dockerd
  await sleep(1000)
  await tb.startDockerd(h)
  const snap = await rec.waitSnapshot(stopped, () => true, 30_000)
  checkSnapshot(snap.value)
  t.notOk(snap.value.endpoints.some((e: any) => e.containerId === victim), 'victim gone from the next snapshot')
  t.equal(snap.value.instance, fx.agent.instance, 'same agent instance: no restart')
  t.match(await fx.agent.metrics.getSingleMetricAsString('driftgate_agent_reconnects_total'), /target="docker"[^}]*} [1-9]/)
  const ip = await waitFor(async () => (await tb.inspect(h, survivor)).State.Running === true && await tb.ipOf(h, survivor), { what: 'survivor restarted' })
  await waitFor(() => lastAnnouncedIp(survivor) === ip, { what: 'survivor announced with its current IP' })
  t.pass(`survivor announced with its current IP ${ip}`)
  const fresh = await tb.run(h, { labels: web })
  const up = await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === fresh, 'agent carries on')
  within1s(t, up, 'start after dockerd restart')
})

t.test('containers killed while NATS is down are gone from the next snapshot', async (t) => {
  const victim = await tb.run(h, { labels: web })
  const keeper = await tb.run(h, { labels: web })
  await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === keeper, 'upsert')
  const down = Date.now()
  process.kill(fx.nats.pid, 'SIGTERM') // the nats-server this test started
  await waitFor(() => { try { process.kill(fx.nats.pid, 0); return false } catch { return true } }, { what: 'nats-server exit' })
  await tb.kill(h, victim)
  await sleep(1000)
  await fx.nats.restart()
  const snap = await rec.waitSnapshot(down, () => true, 30_000)
  checkSnapshot(snap.value)
  t.notOk(snap.value.endpoints.some((e: any) => e.containerId === victim), 'victim gone')
  t.ok(snap.value.endpoints.some((e: any) => e.containerId === keeper), 'keeper still there')
  t.match(await fx.agent.metrics.getSingleMetricAsString('driftgate_agent_reconnects_total'), /target="nats"[^}]*} [1-9]/)
  const fresh = await tb.run(h, { labels: web })
  await rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === fresh, 'agent carries on')
})

t.test('every message of this instance has a distinct, increasing seq', async (t) => {
  const mine = rec.msgs.filter((m) => m.value.instance === fx.agent.instance && m.value.seq !== undefined)
  const seqs = mine.map((m) => m.value.seq as number)
  t.equal(new Set(seqs).size, seqs.length, 'no seq reused')
  const sorted = [...seqs].sort((a, b) => a - b)
  t.same(seqs, sorted, 'received in seq order')
})

t.test('the driftgate agent command runs, serves metrics and stops cleanly on SIGTERM', async (t) => {
  const { spawn } = await import('node:child_process')
  const { freePort } = await import('../harness/index.js')
  const port = await freePort()
  const snaps: any[] = []
  const sub = fx.nc.subscribe('driftgate.snapshot.h2', { callback: (_e, m) => { snaps.push(JSON.parse(new TextDecoder().decode(m.data))) } })
  const child = spawn(process.execPath, [
    '--import=tsx', 'src/cli/main.ts', 'agent',
    '--host-id', 'h2', '--nats', fx.nats.url, '--docker', `unix://${h.socketPath}`, '--network', NET,
    '--host-label', 'rack=r1', '--metrics-port', String(port), '--log-level', 'warn', '--no-ipam-driver',
  ], { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  try {
    const snap = await waitFor(() => snaps[0], { timeoutMs: 30_000, what: 'snapshot from the CLI agent' })
    checkSnapshot(snap)
    const running = (await tb.docker(h)('ps', '-q', '--no-trunc', '--filter', 'label=driftgate.service=web')).split('\n').filter(Boolean)
    t.same(snap.endpoints.map((e: any) => e.containerId).sort(), running.sort(), 'snapshot = the running labelled containers')
    const body = await waitFor(async () => { const r = await fetch(`http://127.0.0.1:${port}/metrics`); return r.ok && await r.text() }, { what: 'metrics' })
    t.match(body, /driftgate_agent_last_snapshot_size\{[^}]*\} \d+/)
    t.match(body, /driftgate_agent_published_total\{kind="snapshot"/)
  } finally {
    child.kill('SIGTERM')
    sub.unsubscribe()
  }
  t.equal(await exited, 0, 'exit code 0 after SIGTERM')
})
