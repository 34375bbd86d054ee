// One registry, one real nats-server, a scripted agent: ordering, snapshots,
// host spoofing and every kind of invalid message.
import t from 'tap'
import { connect } from 'nats'
import { startNats } from '../harness/index.js'
import { ScriptedAgent, startRegistry, liveTable, waitUntil, counter, endpoint, cid } from './registry-fixtures.js'
import { encodeJson, ensureStream } from '../../src/bus/index.js'

const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close() })

const h1 = new ScriptedAgent(nc, 'h1')
const h2 = new ScriptedAgent(nc, 'h2')

// Published before any registry runs (the stream exists, made by an agent or
// an earlier registry): the stream keeps them.
await ensureStream(await nc.jetstreamManager())
const early = endpoint('early', 1)
await h1.upsert(early)

const r = await startRegistry(nats.url, { tombstoneTtl: '1s' })
t.teardown(async () => { await r.close() })
const table = r.reg.tables!.endpoints
const rec = (svc: string, n: number) => table.get(`${svc}.${cid(n)}`)?.value

/** Waits until the registry has handled (applied, ignored or rejected) `n` more stream messages. */
async function settled (): Promise<void> {
  const jsm = await nc.jetstreamManager()
  await waitUntil(async () => {
    const info = await jsm.consumers.info('DRIFTGATE_EVENTS', 'registry')
    return info.num_pending === 0 && info.num_ack_pending === 0
  }, 10_000, 'consumer drained')
}

t.test('events published while no registry ran are applied at start', async (t) => {
  await waitUntil(() => rec('early', 1)?.ip === early.ip, 10_000, 'early event')
  t.pass()
})

t.test('out of order and replayed events: the newest state wins', async (t) => {
  const ep = endpoint('web', 10)
  const first = h1.event('upsert', { ...ep, ip: '10.240.0.11' })  // seq n
  const second = h1.event('upsert', { ...ep, ip: '10.240.0.12' }) // seq n+1
  await h1.publish(second)
  await h1.publish(first) // late, older
  await h1.publish(second) // replay
  await settled()
  t.equal(rec('web', 10)?.ip, '10.240.0.12')
  t.equal(rec('web', 10)?.seq, second.seq)
  t.ok(await counter(r.reg, 'driftgate_registry_stale_events_total', { reason: 'stale' }) >= 1)
  t.ok(await counter(r.reg, 'driftgate_registry_stale_events_total', { reason: 'replay' }) >= 1)
})

t.test('remove then a late older upsert: stays removed (tombstone)', async (t) => {
  const ep = endpoint('web', 11)
  const add = h1.event('upsert', ep)
  const del = h1.event('remove', ep)
  await h1.publish(add)
  await h1.publish(del)
  await settled()
  await h1.publish(add) // late duplicate of the older upsert
  await settled()
  t.equal(rec('web', 11)?.removed, true)
  t.notOk((await liveTable(nc)).has(`web.${cid(11)}`))
})

t.test('a removal arriving before its upsert still wins', async (t) => {
  const ep = endpoint('web', 12)
  const add = h1.event('upsert', ep)
  const del = h1.event('remove', ep)
  await h1.publish(del)
  await h1.publish(add)
  await settled()
  t.equal(rec('web', 12)?.removed, true)
})

t.test('an agent restart (newer instance, seq from 1) overrides the old run', async (t) => {
  const a = new ScriptedAgent(nc, 'h3')
  const ep = endpoint('api', 20)
  await a.upsert({ ...ep, ip: '10.240.0.20' })
  for (let i = 0; i < 5; i++) await a.upsert({ ...ep, ip: '10.240.0.21' })
  a.restart()
  await a.upsert({ ...ep, ip: '10.240.0.22' })
  await settled()
  t.equal(rec('api', 20)?.ip, '10.240.0.22')
  t.equal(rec('api', 20)?.seq, 1)
})

t.test('a snapshot is the truth for its host, and only for its host', async (t) => {
  const a = new ScriptedAgent(nc, 'h4')
  const b = new ScriptedAgent(nc, 'h5')
  for (let n = 30; n < 35; n++) await a.upsert(endpoint('snap', n))
  await b.upsert(endpoint('snap', 40))
  await settled()
  // h4 now runs 31, 33 and a new 36 (whose upsert event was lost).
  await a.snapshot([endpoint('snap', 31), endpoint('snap', 33), endpoint('snap', 36)])
  await settled()
  const live = await liveTable(nc)
  const snapKeys = [...live.keys()].filter((k) => k.startsWith('snap.')).sort()
  t.same(snapKeys, [31, 33, 36, 40].map((n) => `snap.${cid(n)}`))
  t.ok(await counter(r.reg, 'driftgate_registry_snapshots_applied_total') >= 1)

  // A late event older than the snapshot cannot undo it.
  const stale = { ...a.event('upsert', endpoint('snap', 30)), seq: 1 }
  await a.publish(stale)
  await settled()
  t.notOk((await liveTable(nc)).has(`snap.${cid(30)}`))
})

t.test('a host speaking for another host is rejected and counted', async (t) => {
  const before = await counter(r.reg, 'driftgate_registry_invalid_messages_total', { reason: 'host_mismatch' })
  const ep = endpoint('web', 10) // h1's container
  await h2.publish(h1.event('remove', ep), 'h2') // payload says h1, subject says h2
  await h2.publish({ ...h2.event('upsert', { ...ep, ip: '10.240.9.9' }), host: 'h1' }, 'h2')
  await settled()
  t.equal(await counter(r.reg, 'driftgate_registry_invalid_messages_total', { reason: 'host_mismatch' }), before + 2)
  t.equal(rec('web', 10)?.ip, '10.240.0.12', 'unchanged')
  // Honest h2 naming h1's container id: ignored too, the record belongs to h1.
  await h2.upsert({ ...ep, ip: '10.240.9.9' })
  await settled()
  t.equal(rec('web', 10)?.host, 'h1')
  t.equal(rec('web', 10)?.ip, '10.240.0.12')
})

t.test('every kind of invalid message is dropped, counted by reason, and changes nothing', async (t) => {
  const before = new Map((await liveTable(nc)).entries())
  const good = h1.event('upsert', endpoint('bad', 50))
  const kinds: Array<[string, Uint8Array]> = [
    ['not_json', new TextEncoder().encode('{"v":1, "kind":')],
    ['not_utf8', new Uint8Array([0xc3, 0x28, 0x7b])],
    ['unknown_version', encodeJson({ ...good, v: 2 })],
    ['schema', encodeJson({ ...good, seq: -1 })],                                         // wrong value
    ['schema', encodeJson({ ...good, seq: '7' })],                                        // wrong type
    ['schema', encodeJson({ ...good, endpoint: { ...good.endpoint, ip: undefined } })],   // missing field
    ['schema', encodeJson({ ...good, endpoint: { ...good.endpoint, service: '../etc' } })], // hostile name
    ['oversized', encodeJson({ ...good, cause: 'x'.repeat(70_000) })],
  ]
  for (const [, bytes] of kinds) await h1.publish(bytes)
  await h1.publish(encodeJson({ v: 1, host: 'h1' }), 'h1', 'snapshot') // a snapshot missing everything
  await settled()
  const want: Record<string, number> = {}
  for (const [reason] of kinds) want[reason] = (want[reason] ?? 0) + 1
  want.schema += 1
  for (const [reason, n] of Object.entries(want)) {
    t.equal(await counter(r.reg, 'driftgate_registry_invalid_messages_total', { reason }), n, reason)
  }
  t.same(new Map((await liveTable(nc)).entries()), before, 'table unchanged')
  // Still alive and applying.
  await h1.publish(good)
  await settled()
  t.equal(rec('bad', 50)?.ip, endpoint('bad', 50).ip)
})

t.test('tombstones are garbage-collected after their TTL', async (t) => {
  const key = `web.${cid(11)}`
  await waitUntil(async () => (await (await nc.jetstream().views.kv('driftgate_endpoints')).get(key))?.operation === 'DEL', 10_000, 'tombstone gc')
  t.pass()
})

t.test('metrics are exported with their names', async (t) => {
  const text = await r.reg.metrics.metrics()
  for (const name of ['events_applied_total', 'stale_events_total', 'snapshots_applied_total', 'invalid_messages_total', 'hosts', 'apply_latency_seconds', 'fail_static']) {
    t.match(text, `driftgate_registry_${name}`)
  }
})
