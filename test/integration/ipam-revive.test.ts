// Issue 19: an address released into quarantine comes back to the same
// (host, MAC) when it asks again (the MacVLAN shim of a restarted agent keeps
// its address, which replicas use as resolver), while the quarantine still
// holds for every other owner.
import t from 'tap'
import { connect } from 'nats'
import { startNats } from '../harness/index.js'
import { Buckets, decodeJson, encodeJson, openBucket } from '../../src/bus/index.js'
import { addPool, allocations, mac, startAllocator } from './ipam-fixtures.js'

const nats = await startNats()
t.teardown(() => nats.stop())
const nc = await connect({ servers: nats.url })
t.teardown(() => nc.close())
const kv = await openBucket(nc, Buckets.ipam)
await addPool(kv, 'mv0', { subnet: '10.240.1.0/24', range: '10.240.1.10-10.240.1.200' })
const a = await startAllocator(nats.url, { quarantineMs: 60_000, reserveGraceMs: 60_000, sweepMs: 200 })
t.teardown(() => a.close())

const ask = async (host: string, op: string, body: object): Promise<any> => {
  const m = await nc.request(`driftgate.ipam.${host}.${op}`, encodeJson({ v: 1, ...body }), { timeout: 3000 })
  const d = decodeJson(m.data)
  if (!d.ok) throw new Error(d.reason)
  return d.value
}
const key = (ip: string): string => `mv0.${ip.replace(/\./g, '-')}`

t.test('released, then asked again by its owner: the same address, reserved again', async (t) => {
  const shim = mac(7, 6)
  const first = await ask('h1', 'allocate', { pool: 'mv0', host: 'h1', mac: shim })
  t.equal(first.ok, true)
  t.match(await ask('h1', 'bind', { pool: 'mv0', host: 'h1', mac: shim, ip: first.ip, containerId: 'e'.repeat(64) }), { ok: true })
  t.match(await ask('h1', 'release', { pool: 'mv0', host: 'h1', mac: shim, ip: first.ip }), { ok: true })
  t.match((await allocations(kv, 'mv0')).get(key(first.ip)), { state: 'quarantined', reason: 'released' })

  t.match(await ask('h1', 'allocate', { pool: 'mv0', host: 'h1', mac: mac(8, 6), ip: first.ip }), { ok: false, error: /quarantined/ }, 'another MAC: quarantine honoured')
  t.match(await ask('h2', 'allocate', { pool: 'mv0', host: 'h2', mac: shim, ip: first.ip }), { ok: false, error: /quarantined/ }, 'the same MAC on another host: honoured')
  const other = await ask('h2', 'allocate', { pool: 'mv0', host: 'h2', mac: shim })
  t.not(other.ip, first.ip, 'another host with that MAC gets another address')

  const again = await ask('h1', 'allocate', { pool: 'mv0', host: 'h1', mac: shim })
  t.equal(again.ip, first.ip, 'the owner gets its address back within the quarantine')
  t.match((await allocations(kv, 'mv0')).get(key(first.ip)), { state: 'reserved', owner: { host: 'h1', mac: shim } })
  t.equal((await ask('h1', 'allocate', { pool: 'mv0', host: 'h1', mac: shim })).ip, first.ip, 'and again (idempotent)')
})
