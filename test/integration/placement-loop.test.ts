import t from 'tap'
import { connect, type KV, type NatsConnection } from 'nats'
import { Registry } from 'prom-client'
import { startNats, waitFor, sleep } from '../harness/index.js'
import { openBucket, Buckets, encodeJson } from '../../src/bus/index.js'
import { createLogger, silentLogger, type AssignmentRecord, type HostRecord, type ServiceRecord } from '../../src/core/index.js'
import { startPlacement, type Placement } from '../../src/placement/index.js'
import { host, spec } from '../unit/placement-fixtures.js'

async function table (kv: KV): Promise<AssignmentRecord[]> {
  const keys: string[] = []
  for await (const k of await kv.keys()) keys.push(k) // collect first: a slow loop body cuts the key listing short
  const out: AssignmentRecord[] = []
  for (const k of keys) {
    const e = await kv.get(k)
    if (e?.operation === 'PUT') out.push(e.json<AssignmentRecord>())
  }
  return out
}

function perHost (list: AssignmentRecord[], service = 'web'): Record<string, number> {
  const out: Record<string, number> = {}
  for (const a of list) if (a.service === service) out[a.host] = (out[a.host] ?? 0) + 1
  return out
}

t.test('placement loop: leader writes assignments; followers take over without losing or doubling replicas', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const conns: NatsConnection[] = []
  const placements: Placement[] = []
  t.teardown(async () => {
    for (const p of placements) await p.close()
    for (const c of conns) await c.close().catch(() => {})
  })
  const nc = await connect({ servers: nats.url })
  conns.push(nc)
  const kv = {
    services: await openBucket(nc, Buckets.services),
    hosts: await openBucket(nc, Buckets.hosts),
    assignments: await openBucket(nc, Buckets.assignments),
  }
  const putHost = async (h: HostRecord): Promise<void> => { await kv.hosts.put(h.host, encodeJson(h)) }
  const putSpec = async (replicas: number, version: number): Promise<void> => {
    const rec: ServiceRecord = { v: 1, ...spec('web', replicas, { cpu: 0.5 }, version), updatedAt: Date.now() }
    await kv.services.put('web', encodeJson(rec))
  }
  for (const h of ['h1', 'h2', 'h3']) await putHost(host(h))

  async function instance (name: string): Promise<{ p: Placement, nc: NatsConnection }> {
    const c = await connect({ servers: nats.url, maxReconnectAttempts: 0 })
    conns.push(c)
    const p = await startPlacement({ nc: c, log: process.env.DEBUG_PL ? createLogger({ level: 'debug' }) : silentLogger(), metrics: new Registry(), config: { leaseMs: 900, debounceMs: 50, name } })
    placements.push(p)
    return { p, nc: c }
  }
  const a = await instance('reg-a')
  await waitFor(async () => a.p.isLeader(), { timeoutMs: 5000, what: 'a leads' })
  const b = await instance('reg-b')

  await putSpec(3, 1)
  await waitFor(async () => (await table(kv.assignments)).length === 3, { timeoutMs: 5000, what: '3 assignments' })
  t.same(perHost(await table(kv.assignments)), { h1: 1, h2: 1, h3: 1 }, 'apply 3 → 1/1/1')

  await putSpec(6, 2)
  await waitFor(async () => (await table(kv.assignments)).length === 6, { timeoutMs: 5000, what: '6 assignments' })
  t.same(perHost(await table(kv.assignments)), { h1: 2, h2: 2, h3: 2 }, 'scale 6 → 2/2/2')

  await putHost({ ...host('h3'), status: 'down' })
  await waitFor(async () => perHost(await table(kv.assignments)).h3 === undefined, { timeoutMs: 5000, what: 'h3 emptied' })
  t.same(perHost(await table(kv.assignments)), { h1: 3, h2: 3 }, 'a down host loses its replicas to the others')
  await putHost(host('h3'))
  await sleep(300)
  t.same(perHost(await table(kv.assignments)), { h1: 3, h2: 3 }, 'a returning host does not pull replicas back (stable)')

  // Leader dies: b takes over; the table is the same, no replica lost or doubled.
  const before = await table(kv.assignments)
  await a.nc.close()
  await waitFor(async () => b.p.isLeader(), { timeoutMs: 5000, what: 'b takes over' })
  await putSpec(7, 3)
  await waitFor(async () => (await table(kv.assignments)).length === 7, { timeoutMs: 5000, what: '7 assignments' })
  const after = await table(kv.assignments)
  t.same(perHost(after), { h1: 3, h2: 3, h3: 1 }, 'the new leader places the 7th on the empty host')
  for (const x of before) t.ok(after.some((y) => y.host === x.host && y.replica === x.replica && y.since === x.since), `kept ${x.host}.${x.replica}`)
  t.equal(new Set(after.map((x) => x.replica)).size, 7, 'no replica doubled')

  await kv.services.delete('web')
  await waitFor(async () => (await table(kv.assignments)).length === 0, { timeoutMs: 5000, what: 'all gone' })
  t.pass('deleting the service removes every assignment')
})
