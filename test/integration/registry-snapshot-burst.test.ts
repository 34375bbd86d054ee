// A fill: many hosts' snapshots at once, more than the registry applies at
// once (SnapshotGate, 600 KiB ≈ 2,000 endpoints). Those that wait for room
// must all be applied, each as the truth of its own host, and a host's second
// snapshot still wins over its first. One real nats-server.
import t from 'tap'
import { connect } from 'nats'
import { startNats } from '../harness/index.js'
import { ScriptedAgent, startRegistry, liveTable, waitUntil, counter, endpoint, cid } from './registry-fixtures.js'
import { ensureStream } from '../../src/bus/index.js'
import { SNAPSHOT_BYTES_IN_FLIGHT } from '../../src/registry/snapshot-gate.js'

const HOSTS = 80
const PER_HOST = 50 // 80 × 50 endpoints ≈ 860 KB of snapshots: more than the gate holds

const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close() })
await ensureStream(await nc.jetstreamManager())

t.test('a burst of snapshots larger than the gate: every one applied, in order per host', async (t) => {
  const agents = Array.from({ length: HOSTS }, (_, i) => new ScriptedAgent(nc, `burst${i}`))
  const eps = (h: number, from: number, n: number) => Array.from({ length: n }, (_, j) => endpoint(`b${h % 7}`, 100_000 + h * 1000 + from + j))
  // Published before the registry runs: it finds them all at once, as after a fleet start.
  let bytes = 0
  for (const [h, a] of agents.entries()) {
    const first = eps(h, 0, PER_HOST)
    bytes += JSON.stringify(first).length
    await a.snapshot(first)
  }
  t.ok(bytes > SNAPSHOT_BYTES_IN_FLIGHT, `the burst (${bytes} B) is larger than the gate (${SNAPSHOT_BYTES_IN_FLIGHT} B)`)
  // Each host's second snapshot drops its first 10 endpoints and adds 5: it must win over the first.
  for (const [h, a] of agents.entries()) await a.snapshot(eps(h, 10, PER_HOST - 5))

  const r = await startRegistry(nats.url)
  t.teardown(async () => { await r.close() })
  // The gate's gauges, sampled while the burst drains: some snapshots wait, the bytes in work stay within the gate.
  let maxWaiting = 0
  let maxBytes = 0
  await waitUntil(async () => {
    maxWaiting = Math.max(maxWaiting, await counter(r.reg, 'driftgate_registry_snapshots_waiting'))
    maxBytes = Math.max(maxBytes, await counter(r.reg, 'driftgate_registry_snapshot_bytes_in_flight'))
    return await counter(r.reg, 'driftgate_registry_snapshots_applied_total') >= 2 * HOSTS
  }, 60_000, 'every snapshot applied')
  t.ok(maxWaiting > 0, `snapshots waited for room (snapshots_waiting reached ${maxWaiting})`)
  t.ok(maxBytes > 0 && maxBytes <= SNAPSHOT_BYTES_IN_FLIGHT, `bytes in work ${maxBytes} within the gate`)
  const jsm = await nc.jetstreamManager()
  await waitUntil(async () => {
    const info = await jsm.consumers.info('DRIFTGATE_EVENTS', 'registry')
    return info.num_pending === 0 && info.num_ack_pending === 0
  }, 30_000, 'consumer drained')

  const live = await liveTable(nc)
  const want = new Set(agents.flatMap((_, h) => eps(h, 10, PER_HOST - 5)).map((e) => `${e.service}.${e.containerId}`))
  const got = [...live.keys()].filter((k) => /^b\d\./.test(k))
  t.equal(got.length, want.size, `${want.size} live endpoints: each host's second snapshot`)
  t.same(got.filter((k) => !want.has(k)), [], 'nothing of the first snapshots left that the second dropped')
  t.equal(live.get(`b0.${cid(100_000 + 10)}`)?.host, 'burst0', 'a record holds its own host')
  t.equal(await counter(r.reg, 'driftgate_registry_snapshots_applied_total'), 2 * HOSTS, 'each snapshot applied once (no timeout, no redelivery)')
  t.equal(await counter(r.reg, 'driftgate_registry_snapshots_waiting'), 0, 'none waiting once drained')
  t.equal(await counter(r.reg, 'driftgate_registry_snapshot_bytes_in_flight'), 0, 'no bytes in work once drained')
})
