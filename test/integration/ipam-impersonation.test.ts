// Issue 15, hole 2: the host of an IPAM request or a snapshot is the
// subject's (`driftgate.ipam.<host>.<op>`, `driftgate.snapshot.<host>`); a
// payload naming another host is refused, counted and changes nothing.
// Raw NATS requests, so each case states exactly which subject it uses.
import t from 'tap'
import { connect } from 'nats'
import { Registry, type Counter } from 'prom-client'
import { startNats, sleep, waitFor } from '../harness/index.js'
import { Buckets, decodeJson, encodeJson, openBucket } from '../../src/bus/index.js'
import { addPool, allocations, mac, startAllocator } from './ipam-fixtures.js'

const nats = await startNats()
t.teardown(() => nats.stop())
const nc = await connect({ servers: nats.url })
t.teardown(() => nc.close())
const kv = await openBucket(nc, Buckets.ipam)
await addPool(kv, 'mv0', { subnet: '10.240.1.0/24', range: '10.240.1.10-10.240.1.200' })
const metrics = new Registry()
const a = await startAllocator(nats.url, { quarantineMs: 60_000, reserveGraceMs: 60_000, sweepMs: 200 }, metrics)
t.teardown(() => a.close())

const ask = async (subject: string, body: object): Promise<any> => {
  const m = await nc.request(subject, encodeJson(body), { timeout: 2000 })
  const d = decodeJson(m.data)
  if (!d.ok) throw new Error(d.reason)
  return d.value
}
const refused = async (what: string, reason: string): Promise<number> => {
  const c = metrics.getSingleMetric('driftgate_ipam_refused_total') as Counter | undefined
  if (c === undefined) return 0
  return (await c.get()).values.find((v) => v.labels.what === what && v.labels.reason === reason)?.value ?? 0
}
const key = (ip: string): string => `mv0.${ip.replace(/\./g, '-')}`
const cid = 'c'.repeat(64)

let ip = ''

t.test('h2 allocates and binds on its own subjects', async (t) => {
  const h2 = await ask('driftgate.ipam.h2.allocate', { v: 1, pool: 'mv0', host: 'h2', mac: mac(2, 2) })
  t.equal(h2.ok, true, `allocated: ${JSON.stringify(h2)}`)
  ip = h2.ip as string
  t.match(await ask('driftgate.ipam.h2.bind', { v: 1, host: 'h2', mac: mac(2, 2), ip, containerId: cid }), { ok: true, record: { state: 'bound' } })
})

t.test('a request naming another host than its subject is refused and changes nothing', async (t) => {
  const before = await allocations(kv, 'mv0')
  const rel = await ask('driftgate.ipam.h1.release', { v: 1, pool: 'mv0', ip, host: 'h2', mac: mac(2, 2) })
  t.match(rel, { ok: false, code: 'DG_VALIDATION', error: /names host "h2" but came on host "h1"/ }, 'release of h2\'s address by h1 refused')
  const ghost = await ask('driftgate.ipam.h1.allocate', { v: 1, pool: 'mv0', host: 'ghost', mac: mac(9, 9) })
  t.match(ghost, { ok: false, code: 'DG_VALIDATION' }, 'allocation for an invented host refused')
  const bind = await ask('driftgate.ipam.h1.bind', { v: 1, host: 'h2', mac: mac(2, 2), ip, containerId: 'd'.repeat(64) })
  t.match(bind, { ok: false, code: 'DG_VALIDATION' }, 'bind for another host refused')
  t.equal(await refused('request', 'host_mismatch'), 3, 'three refusals counted')
  t.same(await allocations(kv, 'mv0'), before, 'nothing changed')
  t.match((await allocations(kv, 'mv0')).get(key(ip)), { state: 'bound', owner: { host: 'h2', container: cid } })
})

t.test('an invalid host token in the subject is refused', async (t) => {
  const before = await allocations(kv, 'mv0')
  t.match(await ask('driftgate.ipam.-bad-.pool', { v: 1, pool: 'mv0' }), { ok: false, code: 'DG_VALIDATION', error: /host/ }, 'pool query under a bad host token')
  t.match(await ask('driftgate.ipam.H2.allocate', { v: 1, pool: 'mv0', host: 'H2', mac: mac(3, 3) }), { ok: false, code: 'DG_VALIDATION' })
  t.ok(await refused('request', 'bad_subject') >= 1, 'counted')
  await t.rejects(nc.request('driftgate.ipam.allocate', encodeJson({ v: 1, pool: 'mv0', host: 'h2', mac: mac(4, 4) }), { timeout: 1000 }),
    'the old subject without a host gets no answer')
  t.same(await allocations(kv, 'mv0'), before, 'nothing changed')
  t.match(await ask('driftgate.ipam.h2.pool', { v: 1, pool: 'mv0' }), { ok: true, pool: { name: 'mv0' } }, 'a good subject still answers')
})

t.test('a snapshot naming another host than its subject does not reach the leak collector', async (t) => {
  const snap = (subjectHost: string, payloadHost: string): void => {
    const now = Date.now()
    nc.publish(`driftgate.snapshot.${subjectHost}`, encodeJson({
      v: 1, host: payloadHost, instance: '0000000aa-abcdef', seq: now, time: now, sentAt: now, endpoints: [], containers: [],
    }))
  }
  await sleep(5) // every snapshot below is newer than the bind
  snap('h1', 'h2') // two forged misses would release h2's live address
  snap('h1', 'h2')
  await waitFor(async () => await refused('snapshot', 'host_mismatch') === 2, { what: 'forged snapshots refused', timeoutMs: 5000 })
  t.match((await allocations(kv, 'mv0')).get(key(ip)), { state: 'bound' }, 'still bound')
  t.notOk((await allocations(kv, 'mv0')).get(key(ip)).missed, 'no miss counted')
  snap('h2', 'h2') // the owner's own snapshot: one miss, so the collector does run
  await waitFor(async () => (await allocations(kv, 'mv0')).get(key(ip))?.missed === 1, { what: 'the genuine miss', timeoutMs: 5000 })
  await sleep(300)
  t.match((await allocations(kv, 'mv0')).get(key(ip)), { state: 'bound', missed: 1 }, 'only the genuine snapshot counted')
})
