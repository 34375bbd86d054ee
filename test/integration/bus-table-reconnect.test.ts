// A KV table whose client loses its server (SIGKILL, not a clean shutdown)
// opens its watch again on the reconnect: before, nats.js noticed the dead
// ordered consumer only after two missed idle heartbeats and the table stood
// still for 10-20 s. Measured from the put's acknowledgement and JetStream
// creating consumers again, so the cluster's own leader elections are not
// counted against the table.
import t from 'tap'
import { connect } from 'nats'
import { setTimeout as sleep } from 'node:timers/promises'
import { startNatsCluster } from '../harness/index.js'
import { KvTable, encodeJson } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'

t.test('a table follows a change made after its server was killed within 2 s of the ack', async (t) => {
  const cluster = await startNatsCluster(3)
  t.teardown(async () => { await cluster.stop() })
  const writer = await connect({ servers: cluster.urls[0], maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  t.teardown(async () => { await writer.close() })
  const kv = await writer.jetstream().views.kv('t_reconnect', { replicas: 3, history: 1 })
  // The table's client sits on n2 and falls back to the others.
  const reader = await connect({ servers: [cluster.urls[1], cluster.urls[0], cluster.urls[2]], noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  t.teardown(async () => { await reader.close() })
  const table = new KvTable<number>({ kv: await reader.jetstream().views.kv('t_reconnect'), log: silentLogger(), decode: (v) => (typeof v === 'number' ? v : null) })
  t.teardown(async () => { await table.close() })
  await table.start()
  await kv.put('before', encodeJson(1))
  await waitKey(table, 'before', 5000)

  const jsm = await writer.jetstreamManager({ timeout: 1000 })
  process.kill(cluster.nodes[1].pid, 'SIGKILL')
  // Retry the put until the cluster takes it (a leader election may be running).
  let ackedAt = 0
  for (let i = 0; ackedAt === 0; i++) {
    try { await kv.put('after', encodeJson(2)); ackedAt = Date.now() } catch (err) {
      if (i > 60) throw err
      await sleep(250)
    }
  }
  // A watch is a consumer, and creating one needs the meta leader, which may still be electing after the put's ack.
  let apiAt = 0
  for (let i = 0; apiAt === 0; i++) {
    try {
      const ci = await jsm.consumers.add('KV_t_reconnect', { inactive_threshold: 5_000_000_000 })
      await jsm.consumers.delete('KV_t_reconnect', ci.name)
      apiAt = Date.now()
    } catch (err) {
      if (i > 60) throw err
      await sleep(100)
    }
  }
  const seenAt = await waitKey(table, 'after', 30_000)
  const from = Math.max(ackedAt, apiAt)
  t.ok(seenAt - from < 2000, `the table had the change ${seenAt - from} ms after the put's ack and JetStream creating consumers again (${apiAt - ackedAt} ms after the ack; 10-20 s after the kill before the reconnect rewatch)`)
  t.equal(table.errors.watch, 0, 'a reopen after a reconnect is not counted as a watch fault')
})

async function waitKey (table: KvTable<number>, key: string, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs
  while (!table.entries.has(key)) {
    if (Date.now() > end) throw new Error(`${key} not in the table after ${timeoutMs} ms`)
    await sleep(20)
  }
  return Date.now()
}
