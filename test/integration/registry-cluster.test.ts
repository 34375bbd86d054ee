// A 3-node NATS cluster with the stream and buckets replicated 3 times: one
// node is killed while events flow (and brought back); nothing is lost.
import t from 'tap'
import { connect } from 'nats'
import { startNatsCluster } from '../harness/index.js'
import { ScriptedAgent, startRegistry, liveTable, waitUntil, endpoint, cid, type TestRegistry } from './registry-fixtures.js'
import { ensureStream } from '../../src/bus/index.js'

const cluster = await startNatsCluster(3)
t.teardown(async () => { await cluster.stop() })
const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
t.teardown(async () => { await nc.close() })
await ensureStream(await nc.jetstreamManager(), { replicas: 3 })

const cfg = { replicas: 3, ackWait: '3s', heartbeatInterval: '10s', hostGrace: '10m' }
const regs: TestRegistry[] = []
for (let i = 0; i < 2; i++) regs.push(await startRegistry(cluster.urls, cfg))
t.teardown(async () => { for (const r of regs) await r.close() })

t.test('buckets and stream are replicated', async (t) => {
  const jsm = await nc.jetstreamManager()
  t.equal((await jsm.streams.info('DRIFTGATE_EVENTS')).config.num_replicas, 3)
  t.equal((await jsm.streams.info('KV_driftgate_endpoints')).config.num_replicas, 3)
  t.equal((await jsm.streams.info('KV_driftgate_hosts')).config.num_replicas, 3)
})

t.test('killing one NATS node during ingestion loses nothing', async (t) => {
  const agents = Array.from({ length: 4 }, (_, i) => new ScriptedAgent(nc, `h${i + 1}`))
  const truth = new Map<string, { ip: string, seq: number } | null>()
  const EVENTS = 2000
  let failedPublishes = 0
  // Like an agent: retry a publish until the stream acknowledges it.
  const publish = async (a: ScriptedAgent, msg: unknown): Promise<void> => {
    for (;;) {
      try { await a.publish(msg); return } catch { failedPublishes++; await new Promise((resolve) => setTimeout(resolve, 200)) }
    }
  }
  let killed = false
  // The hardest node to lose: the one leading the endpoint bucket's stream.
  const jsm0 = await nc.jetstreamManager()
  const leader = (await jsm0.streams.info('KV_driftgate_endpoints')).cluster?.leader
  const victim = cluster.nodes.find((n) => n.name === leader) ?? cluster.nodes[1]
  t.comment(`killing ${victim.name} (endpoint bucket leader ${leader ?? '?'})`)
  const batch: Array<Promise<void>> = []
  for (let e = 0; e < EVENTS; e++) {
    if (e === EVENTS / 4) { await Promise.all(batch); batch.length = 0; await victim.stop(); killed = true }
    if (e === (3 * EVENTS) / 4) { await Promise.all(batch); batch.length = 0; await victim.restart() }
    const a = agents[e % agents.length]
    const n = (e % agents.length) * 1000 + (e * 7) % 150
    const ep = { ...endpoint(`svc${n % 20}`, n), ip: `10.240.${e % 250}.${(e >> 8) % 250 + 2}` }
    const kind = e % 5 === 0 ? 'remove' : 'upsert'
    const msg = a.event(kind, ep)
    truth.set(`${ep.service}.${cid(n)}`, kind === 'upsert' ? { ip: ep.ip, seq: msg.seq } : null)
    batch.push(publish(a, msg))
    if (batch.length === 25) { await Promise.all(batch); batch.length = 0 }
  }
  await Promise.all(batch)
  t.ok(killed)
  t.comment(`publishes retried: ${failedPublishes}`)

  const jsm = await nc.jetstreamManager()
  await waitUntil(async () => {
    const info = await jsm.consumers.info('DRIFTGATE_EVENTS', 'registry').catch(() => null)
    return info != null && info.num_pending === 0 && info.num_ack_pending === 0
  }, 90_000, 'all events acked')

  const want = new Map([...truth].filter(([, v]) => v != null)) as Map<string, { ip: string, seq: number }>
  await waitUntil(async () => (await liveTable(nc)).size === want.size, 20_000, 'table size').catch(() => undefined)
  const live = await liveTable(nc)
  t.equal(live.size, want.size, `${want.size} live endpoints`)
  let wrong = 0
  for (const [k, v] of want) if (live.get(k)?.ip !== v.ip || live.get(k)?.seq !== v.seq) wrong++
  t.equal(wrong, 0, 'every live endpoint has its last ip and seq')
})
