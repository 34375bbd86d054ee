// Fail static: the addresses of a `down` host are kept until the host has
// been down longer than its grace; an unknown or recently-down host keeps
// them. Invalid KV values and requests change nothing.
import t from 'tap'
import { connect } from 'nats'
import { startNats, sleep, waitFor } from '../harness/index.js'
import { Buckets, encodeJson, openBucket } from '../../src/bus/index.js'
import { addressKey } from '../../src/core/index.js'
import { casCreate } from '../../src/registry/ipam/store.js'
import { reserve } from '../../src/registry/ipam/state.js'
import { ipamClient } from '../../src/agent/ipam/index.js'
import { addPool, allocations, mac, startAllocator } from './ipam-fixtures.js'

const host = (name: string, status: string, since: number): Uint8Array => encodeJson({
  v: 1, host: name, instance: '0000000aa-abcdef', capacity: { cpus: 1, memoryBytes: 1 }, allocated: { cpus: 0, memoryBytes: 0, containers: 0 },
  labels: {}, lastSeen: since, status, since,
})

t.test('down hosts past their grace lose their addresses, and only they', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  const [kv, hosts] = await Promise.all([openBucket(nc, Buckets.ipam), openBucket(nc, Buckets.hosts)])
  await addPool(kv, 'mv0', { subnet: '10.240.1.0/24' })
  const now = Date.now()
  await hosts.put('h1', host('h1', 'down', now - 5000)) // down for 5 s: past a 1 s grace
  await hosts.put('h2', host('h2', 'down', now + 60_000)) // just went down
  await hosts.put('h3', host('h3', 'up', now - 5000))
  const owners = ['h1', 'h2', 'h3', 'h4'] // h4: no host record at all
  for (const [i, h] of owners.entries()) {
    const ip = `10.240.1.${10 + i}`
    await casCreate(kv, addressKey('mv0', ip), reserve('mv0', ip, { host: h, mac: mac(i) }, now))
  }
  await kv.put('mv0.10-240-1-99', encodeJson({ v: 1, junk: true }))
  const a = await startAllocator(nats.url, { downGraceMs: 1000, sweepMs: 200, quarantineMs: 60_000 })
  t.teardown(() => a.close())
  await waitFor(async () => (await allocations(kv, 'mv0')).get('mv0.10-240-1-10')?.state === 'quarantined', { what: 'h1 released' })
  await sleep(600)
  const recs = await allocations(kv, 'mv0')
  t.match(recs.get('mv0.10-240-1-10'), { state: 'quarantined', reason: 'host-down' })
  t.match(recs.get('mv0.10-240-1-11'), { state: 'reserved' }, 'down within its grace: kept')
  t.match(recs.get('mv0.10-240-1-12'), { state: 'reserved' }, 'up: kept')
  t.match(recs.get('mv0.10-240-1-13'), { state: 'reserved' }, 'unknown host: kept')
  const call = ipamClient(nc, 'h5')
  const answer = await call('allocate', { v: 1, pool: 'mv0', host: 'h5', mac: mac(5) })
  t.not(answer.ip, '10.240.1.99')
  await t.rejects(call('allocate', { v: 1, pool: 'mv0', host: 'h5', mac: mac(7), ip: '10.240.1.99' }), { code: 'DG_IPAM_TAKEN', message: /unreadable KV record/ },
    'an invalid KV value still occupies its address')
  await t.rejects(call('allocate', { v: 1, pool: 'mv0', host: 'Bad Host', mac: mac(6) }), { code: 'DG_VALIDATION', message: /host/ })
  await t.rejects(call('allocate', { v: 1, pool: 'mv0', host: 'h5', mac: 'nope' }), { code: 'DG_VALIDATION' })
  await t.rejects(call('frobnicate', { v: 1 }), { code: 'DG_VALIDATION', message: /unknown ipam op/ })
  nc.publish('driftgate.ipam.h5.allocate', new TextEncoder().encode('{not json'))
  await t.rejects(call('bind', { v: 1, host: 'h5', mac: mac(5), ip: '10.240.9.9', containerId: 'a'.repeat(64) }), { code: 'DG_NOT_FOUND', message: /pool containing 10\.240\.9\.9/ })
  t.equal((await allocations(kv, 'mv0')).size, 5, 'bad requests allocated nothing')
})
