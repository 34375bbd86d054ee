// Issue 15 hole 8: a KV table whose 'change' listener throws, or whose watch
// ends under it, must keep mirroring the bucket (real nats-server).
import t from 'tap'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, waitFor } from '../harness/index.js'
import { KvTable, encodeJson } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'

const nats = await startNats()
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close(); await nats.stop() })
const js = nc.jetstream()

const counter = async (reg: Registry, kind: string): Promise<number> => {
  const m = new RegExp(`^driftgate_kv_table_errors_total\\{[^}]*kind="${kind}"[^}]*\\} (\\S+)$`, 'm').exec(await reg.metrics())
  return m == null ? 0 : Number(m[1])
}

t.test('a throwing listener does not stop the watch', async (t) => {
  const kv = await js.views.kv('t_listener', { history: 1 })
  const metrics = new Registry()
  const table = new KvTable<number>({ kv, log: silentLogger(), decode: (v) => (typeof v === 'number' ? v : null), metrics })
  t.teardown(async () => { await table.close() })
  await table.start()
  const seen: string[] = []
  table.on('change', (c: { key: string }) => {
    seen.push(c.key)
    if (c.key.startsWith('boom')) throw new Error('listener bug')
  })
  await kv.put('boom1', encodeJson(1))
  await kv.put('boom2', encodeJson(2))
  await kv.put('after', encodeJson(3))
  await waitFor(() => table.entries.get('after') === 3, { timeoutMs: 5000 })
  t.same(seen, ['boom1', 'boom2', 'after'], 'every change reached the listener')
  t.equal(await counter(metrics, 'listener'), 2, 'each listener error counted')
  t.equal(table.errors.listener, 2)
})

t.test('a watch that ends is opened again and misses nothing', async (t) => {
  const kv = await js.views.kv('t_rewatch', { history: 1 })
  const metrics = new Registry()
  const table = new KvTable<number>({ kv, log: silentLogger(), decode: (v) => (typeof v === 'number' ? v : null), metrics, rewatchDelayMs: 50 })
  t.teardown(async () => { await table.close() })
  await kv.put('a', encodeJson(1))
  await kv.put('gone', encodeJson(1))
  await table.start()
  t.equal(table.entries.get('a'), 1)
  // What nats.js does when the watch's consumer is lost: the iterator ends.
  ;(table as unknown as { iter: { stop: () => void } }).iter.stop()
  await kv.put('b', encodeJson(2))
  await kv.put('a', encodeJson(5))
  await kv.delete('gone')
  await waitFor(() => table.entries.get('b') === 2 && table.entries.get('a') === 5 && !table.entries.has('gone'), { timeoutMs: 5000 })
  t.equal(await counter(metrics, 'watch'), 1, 'the ended watch counted')
  await kv.put('c', encodeJson(3))
  await waitFor(() => table.entries.get('c') === 3, { timeoutMs: 5000 })
  t.pass('later changes arrive too')
})

t.test('close() during the re-watch delay stops it for good', async (t) => {
  const kv = await js.views.kv('t_close', { history: 1 })
  const table = new KvTable<number>({ kv, log: silentLogger(), decode: (v) => (typeof v === 'number' ? v : null), rewatchDelayMs: 200 })
  await table.start()
  ;(table as unknown as { iter: { stop: () => void } }).iter.stop()
  await table.close()
  await table.close()
  await new Promise((resolve) => setTimeout(resolve, 400))
  await kv.put('x', encodeJson(1))
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.notOk(table.entries.has('x'), 'no watch after close')
})

// The DNS forward-allow list follows the IPAM pools this way (`pool.>` only):
// the filter must hold across a re-watch too.
t.test('a key filter holds at start and after a re-watch', async (t) => {
  const kv = await js.views.kv('t_filter', { history: 1 })
  const table = new KvTable<number>({ kv, key: 'pool.>', log: silentLogger(), decode: (v) => (typeof v === 'number' ? v : null), rewatchDelayMs: 50 })
  t.teardown(async () => { await table.close() })
  await kv.put('pool.a', encodeJson(1))
  await kv.put('other', encodeJson(1))
  await table.start()
  t.same([...table.entries.keys()], ['pool.a'], 'only the filtered keys loaded')
  ;(table as unknown as { iter: { stop: () => void } }).iter.stop()
  await kv.put('block.1', encodeJson(2))
  await kv.put('pool.b', encodeJson(2))
  await waitFor(() => table.entries.get('pool.b') === 2, { timeoutMs: 5000 })
  t.same([...table.entries.keys()].sort(), ['pool.a', 'pool.b'], 'only the filtered keys after the re-watch')
})
