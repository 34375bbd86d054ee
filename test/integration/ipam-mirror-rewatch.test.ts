// The IPAM mirror keeps following the bucket when its watch ends (a listener
// threw, NATS dropped the consumer): it re-watches after a backoff instead of
// steering every later choice by stale data. Real nats-server.
import t from 'tap'
import { connect } from 'nats'
import { startNats, waitFor } from '../harness/index.js'
import { ensureBuckets, encodeJson } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { IpamMirror } from '../../src/registry/ipam/mirror.js'

const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close() })
const kv = await ensureBuckets(nc)
const pool = (subnet: string): Uint8Array => {
  const base = subnet.replace(/0\/24$/, '')
  return encodeJson({ v: 1, name: 'p', subnet, start: `${base}10`, end: `${base}200`, gateway: `${base}1`, reserved: [], createdAt: Date.now() })
}

t.test('a watch that ends is reopened and the mirror catches up', async (t) => {
  await kv.ipam.put('pool.p', pool('10.244.1.0/24'))
  const m = new IpamMirror(kv.ipam, silentLogger())
  t.teardown(async () => { await m.close() })
  await m.start()
  t.equal(m.pools.get('p')?.record.subnet, '10.244.1.0/24', 'loaded')
  // End the watch under the mirror, as a dropped consumer would.
  ;(m as unknown as { iter: { stop: () => void } }).iter.stop()
  await kv.ipam.put('pool.p', pool('10.244.2.0/24'))
  await waitFor(() => m.pools.get('p')?.record.subnet === '10.244.2.0/24', { timeoutMs: 10_000, what: 'change seen after the re-watch' })
  t.ok(m.faults.rewatches >= 1, `re-watched (${m.faults.rewatches})`)
})

t.test('an entry whose handling throws is counted and the watch goes on', async (t) => {
  const m = new IpamMirror(kv.ipam, silentLogger())
  t.teardown(async () => { await m.close() })
  await m.start()
  const apply = (m as unknown as { apply: (e: unknown) => void }).apply.bind(m)
  let boom = true
  ;(m as unknown as { apply: (e: unknown) => void }).apply = (e) => { if (boom) { boom = false; throw new Error('listener bug') } apply(e) }
  await kv.ipam.put('pool.q', pool('10.244.3.0/24'))
  await kv.ipam.put('pool.r', pool('10.244.4.0/24'))
  await waitFor(() => m.pools.has('r'), { timeoutMs: 10_000, what: 'later entry applied' })
  t.equal(m.faults.entries, 1, 'the throwing entry counted')
})
