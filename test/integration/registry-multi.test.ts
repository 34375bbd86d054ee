// Three registry instances on one durable consumer; one of them is killed
// (connection dropped mid-flight, nothing acked) and restarted at random
// while 5,000 events flow. The final table must equal the truth.
import t from 'tap'
import { startNats } from '../harness/index.js'
import { ScriptedAgent, startRegistry, liveTable, waitUntil, counter, endpoint, cid, type TestRegistry } from './registry-fixtures.js'
import { connect as natsConnect, type NatsConnection } from 'nats'
import { Registry } from 'prom-client'
import { ensureStream, openBucket, Buckets } from '../../src/bus/index.js'
import { VersionedStore } from '../../src/registry/store.js'
import { JsWriter } from '../../src/registry/js-writer.js'
import { EndpointApplier } from '../../src/registry/applier.js'
import { createRegistryMetrics } from '../../src/registry/metrics.js'
import { fromEvent } from '../../src/registry/decide.js'
import { checkEndpointRecord, silentLogger, type EndpointRecord } from '../../src/core/index.js'

const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const nc = await natsConnect({ servers: nats.url })
t.teardown(async () => { await nc.close() })
await ensureStream(await nc.jetstreamManager())

const cfg = { ackWait: '2s', heartbeatInterval: '10s', hostGrace: '10m' } // liveness out of the way
const regs: TestRegistry[] = []
for (let i = 0; i < 3; i++) regs.push(await startRegistry(nats.url, cfg))
t.teardown(async () => { for (const r of regs) await r.close() })

t.test('5,000 events, 3 instances, one killed and restarted at random: table equals truth', async (t) => {
  const HOSTS = 5
  const PER_HOST = 100
  const EVENTS = 5000
  const agents = Array.from({ length: HOSTS }, (_, i) => new ScriptedAgent(nc, `h${i + 1}`))
  const truth = new Map<string, { ip: string, seq: number } | null>()
  let rnd = 42
  const random = (): number => { rnd = (rnd * 1103515245 + 12345) & 0x7fffffff; return rnd / 0x7fffffff }

  let kills = 0
  let publishing = true
  const chaos = (async () => {
    // At least two kills even when publishing is quick (a faster registry
    // leaves the server more time for the publisher): the backlog is still
    // being applied by then.
    while (publishing || kills < 2) {
      await new Promise((resolve) => setTimeout(resolve, 150 + random() * 250))
      const i = Math.floor(random() * regs.length)
      await regs[i].kill()
      kills++
      await new Promise((resolve) => setTimeout(resolve, 100 + random() * 300))
      regs[i] = await startRegistry(nats.url, cfg)
    }
  })()

  const batch: Array<Promise<void>> = []
  for (let e = 0; e < EVENTS; e++) {
    const a = agents[e % HOSTS]
    const n = (e % HOSTS) * 1000 + Math.floor(random() * PER_HOST)
    const ep = { ...endpoint(`svc${n % 50}`, n), ip: `10.240.${e % 250}.${(e >> 8) % 250 + 2}` }
    const kind = random() < 0.3 ? 'remove' : 'upsert'
    const msg = a.event(kind, ep)
    truth.set(`${ep.service}.${cid(n)}`, kind === 'upsert' ? { ip: ep.ip, seq: msg.seq } : null)
    batch.push(a.publish(msg)) // in flight together: the stream order is not the seq order
    if (batch.length === 50) { await Promise.all(batch); batch.length = 0 }
  }
  await Promise.all(batch)
  publishing = false
  await chaos
  t.ok(kills >= 2, `killed ${kills} times`)

  const jsm = await nc.jetstreamManager()
  await waitUntil(async () => {
    const info = await jsm.consumers.info('DRIFTGATE_EVENTS', 'registry')
    return info.num_pending === 0 && info.num_ack_pending === 0
  }, 60_000, 'all events acked')

  const live = await liveTable(nc)
  const want = new Map([...truth].filter(([, v]) => v != null)) as Map<string, { ip: string, seq: number }>
  t.equal(live.size, want.size, `${want.size} live endpoints`)
  let wrong = 0
  for (const [k, v] of want) {
    const got = live.get(k)
    if (got?.ip !== v.ip || got.seq !== v.seq) wrong++
  }
  t.equal(wrong, 0, 'every live endpoint has its last ip and seq')
  const applied = (await Promise.all(regs.map(async (r) => await counter(r.reg, 'driftgate_registry_events_applied_total')))).reduce((s, x) => s + x, 0)
  const conflicts = (await Promise.all(regs.map(async (r) => await counter(r.reg, 'driftgate_registry_write_conflicts_total')))).reduce((s, x) => s + x, 0)
  t.comment(`kills=${kills}; by the surviving instances: events applied=${applied}, CAS conflicts retried=${conflicts}`)
})

t.test('two instances racing on the same container end in the newest state', async (t) => {
  // Two appliers on two connections, each with its own (soon stale) mirror,
  // fed the same 200 versions of one container in opposite orders, at once.
  const stores: Array<VersionedStore<EndpointRecord>> = []
  const appliers: EndpointApplier[] = []
  const conns: NatsConnection[] = []
  // Also when an apply or an assertion throws: a failure must not leave the process hanging.
  const writers: JsWriter[] = []
  t.teardown(async () => {
    for (const s of stores) await s.close()
    for (const w of writers) w.close()
    for (const c of conns) await c.close()
  })
  for (let i = 0; i < 2; i++) {
    const c = await natsConnect({ servers: nats.url })
    conns.push(c)
    const kv = await openBucket(c, Buckets.endpoints)
    const writer = new JsWriter(c)
    writer.start()
    writers.push(writer)
    const store = new VersionedStore<EndpointRecord>({ kv, writer, log: silentLogger(), problems: checkEndpointRecord.problems, indexOf: (r) => r.host })
    await store.start()
    stores.push(store)
    appliers.push(new EndpointApplier({ store, metrics: createRegistryMetrics(new Registry()), log: silentLogger() }))
  }
  const a = new ScriptedAgent(nc, 'race')
  const ep = endpoint('race', 7)
  const events = Array.from({ length: 200 }, (_, i) => fromEvent(a.event(i % 7 === 6 ? 'remove' : 'upsert', { ...ep, ip: `10.240.7.${i + 1}` })))
  await Promise.all([
    Promise.all(events.map(async (e) => await appliers[0].apply(e))),
    Promise.all([...events].reverse().map(async (e) => await appliers[1].apply(e))),
  ])
  const last = events[events.length - 1]
  const rec = (await (await openBucket(nc, Buckets.endpoints)).get(`race.${cid(7)}`))?.json<EndpointRecord>()
  t.equal(rec?.seq, last.seq, 'newest version')
  t.equal(rec?.ip, last.endpoint?.ip)
})
