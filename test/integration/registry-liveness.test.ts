// Host liveness with a real nats-server and scripted agents on short timings:
// heartbeat 200 ms (suspect after 600 ms), grace 2 s.
import t from 'tap'
import { connect } from 'nats'
import { startNats } from '../harness/index.js'
import { ScriptedAgent, startRegistry, liveTable, waitUntil, counter, endpoint } from './registry-fixtures.js'
import { encodeJson } from '../../src/bus/index.js'

const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close() })

const timings = { heartbeatInterval: '200ms', hostGrace: '2s', sweepInterval: '100ms' }
// Two registry instances: heartbeats are shared (queue group), sweeps run on both.
const r1 = await startRegistry(nats.url, timings)
const r2 = await startRegistry(nats.url, timings)
t.teardown(async () => { await r1.close(); await r2.close() })

const names = ['h1', 'h2', 'h3', 'h4', 'h5']
const agents = names.map((h) => new ScriptedAgent(nc, h))
const beating = new Set(names)
const timer = setInterval(() => { for (const a of agents) if (beating.has(a.host)) a.heartbeat() }, 200)
t.teardown(() => { clearInterval(timer) })

const status = (h: string): string | undefined => r1.reg.tables!.hosts.get(h)?.value?.status
const hostsOf = async (): Promise<Map<string, number>> => {
  const m = new Map<string, number>()
  for (const rec of (await liveTable(nc)).values()) m.set(rec.host, (m.get(rec.host) ?? 0) + 1)
  return m
}

// Two endpoints per host.
let n = 0
for (const a of agents) { await a.upsert(endpoint('web', ++n)); await a.upsert(endpoint('api', ++n)) }
await waitUntil(async () => [...(await hostsOf()).values()].reduce((s, x) => s + x, 0) === 10, 10_000, 'endpoints in')
await waitUntil(() => names.every((h) => status(h) === 'up'), 10_000, 'hosts up')

t.test('heartbeats make hosts up in driftgate_hosts', async (t) => {
  const rec = r1.reg.tables!.hosts.get('h1')?.value
  t.equal(rec?.status, 'up')
  t.equal(rec?.instance, agents[0].instance)
  t.match(await r1.reg.metrics.metrics(), /driftgate_registry_hosts\{status="up",role="registry"\} 5/)
})

t.test('a silent host turns suspect, then down after the grace; its endpoints leave', async (t) => {
  beating.delete('h5')
  const silentAt = Date.now()
  await waitUntil(() => status('h5') === 'suspect', 5000, 'h5 suspect')
  const suspectAfter = Date.now() - silentAt
  // Silence counts from the last heartbeat, sent up to one interval (200 ms)
  // before silentAt: the bounds below allow for that, not more.
  t.ok(suspectAfter >= 600 - 200, `suspect after ${suspectAfter} ms`)
  t.equal((await hostsOf()).get('h5'), 2, 'a suspect host keeps its endpoints')
  await waitUntil(() => status('h5') === 'down', 5000, 'h5 down')
  const downAfter = Date.now() - silentAt
  t.ok(downAfter >= 2000 - 200, `down after ${downAfter} ms (grace 2 s)`)
  await waitUntil(async () => !(await hostsOf()).has('h5'), 5000, 'h5 endpoints gone')
  t.equal((await hostsOf()).size, 4, 'the other hosts keep theirs')
  t.equal(await counter(r1.reg, 'driftgate_registry_fail_static'), 0)
})

t.test('a host that comes back is up again and re-registers by snapshot', async (t) => {
  const h5 = agents[4]
  h5.restart()
  beating.add('h5')
  await waitUntil(() => status('h5') === 'up', 5000, 'h5 up')
  await h5.snapshot([endpoint('web', 9)])
  await waitUntil(async () => (await hostsOf()).get('h5') === 1, 5000, 'h5 endpoint back')
  t.pass()
})

t.test('when all hosts but one stop at once: fail static, nothing removed, alarm until they return', async (t) => {
  const before = await hostsOf()
  for (const h of ['h1', 'h2', 'h3', 'h5']) beating.delete(h)
  await waitUntil(async () => await counter(r1.reg, 'driftgate_registry_fail_static') === 1, 5000, 'fail static alarm')
  await waitUntil(async () => await counter(r2.reg, 'driftgate_registry_fail_static') === 1, 5000, 'alarm on the other instance')
  t.pass('every instance raises it')
  await new Promise((resolve) => setTimeout(resolve, 3500)) // well past the grace
  t.same(await hostsOf(), before, 'nothing removed')
  t.ok(['h1', 'h2', 'h3', 'h5'].every((h) => status(h) === 'suspect'), 'silent hosts are suspect, not down')
  for (const h of ['h1', 'h2', 'h3', 'h5']) beating.add(h)
  await waitUntil(async () => await counter(r1.reg, 'driftgate_registry_fail_static') === 0 &&
    await counter(r2.reg, 'driftgate_registry_fail_static') === 0, 5000, 'alarm cleared')
  await waitUntil(() => names.every((h) => status(h) === 'up'), 5000, 'all up')
  t.same(await hostsOf(), before, 'still nothing removed')
})

t.test('invalid heartbeats are counted and change nothing', async (t) => {
  const before = r1.reg.tables!.hosts.get('h1')?.value?.instance
  nc.publish('driftgate.heartbeat.h1', encodeJson({ v: 1, host: 'h2', instance: agents[1].instance, sentAt: 1, capacity: { cpus: 1, memoryBytes: 1 }, allocated: { cpus: 0, memoryBytes: 0, containers: 0 }, labels: {} }))
  nc.publish('driftgate.heartbeat.h1', new TextEncoder().encode('nope'))
  nc.publish('driftgate.heartbeat.h1', encodeJson({ v: 9 }))
  await waitUntil(async () => (await counter(r1.reg, 'driftgate_registry_invalid_messages_total', { type: 'heartbeat' })) +
    (await counter(r2.reg, 'driftgate_registry_invalid_messages_total', { type: 'heartbeat' })) === 3, 5000, 'counted')
  t.equal(r1.reg.tables!.hosts.get('h1')?.value?.instance, before)
})
