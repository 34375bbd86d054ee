import t from 'tap'
import { parseStreamMessage, parseHeartbeat, MAX_EVENT_BYTES } from '../../src/registry/parse.js'
import { subjects } from '../../src/bus/index.js'

const subs = subjects('driftgate')
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const CID = 'c'.repeat(64)
const I1 = 'lq0000001-aaaaaa'
const endpoint = { service: 'web', containerId: CID, ip: '10.240.1.2', mac: '02:42:0a:f0:01:02', port: 80, network: 'mv0', state: 'running', health: 'none', weight: 1 }
const event = { v: 1, kind: 'upsert', host: 'h1', instance: I1, seq: 1, time: 1, sentAt: 1, endpoint }
const snapshot = { v: 1, host: 'h1', instance: I1, seq: 2, time: 1, sentAt: 1, endpoints: [endpoint], containers: [CID] }
const heartbeat = { v: 1, host: 'h1', instance: I1, sentAt: 1, capacity: { cpus: 1, memoryBytes: 1 }, allocated: { cpus: 0, memoryBytes: 0, containers: 0 }, labels: {} }

const cases: Array<{ desc: string, input: [string, Uint8Array], expected: string }> = [
  { desc: 'valid event', input: ['driftgate.events.h1', enc(event)], expected: 'event' },
  { desc: 'valid removal', input: ['driftgate.events.h1', enc({ ...event, kind: 'remove', endpoint: { service: 'web', containerId: CID } })], expected: 'event' },
  { desc: 'valid snapshot', input: ['driftgate.snapshot.h1', enc(snapshot)], expected: 'snapshot' },
  { desc: 'oversized event', input: ['driftgate.events.h1', new Uint8Array(MAX_EVENT_BYTES + 1).fill(32)], expected: 'oversized' },
  { desc: 'not UTF-8', input: ['driftgate.events.h1', new Uint8Array([0xff, 0xfe, 0x7b])], expected: 'not_utf8' },
  { desc: 'not JSON', input: ['driftgate.events.h1', new TextEncoder().encode('{"v":1,')], expected: 'not_json' },
  { desc: 'unknown version', input: ['driftgate.events.h1', enc({ ...event, v: 2 })], expected: 'unknown_version' },
  { desc: 'wrong type', input: ['driftgate.events.h1', enc({ ...event, seq: 'one' })], expected: 'schema' },
  { desc: 'missing field', input: ['driftgate.events.h1', enc({ ...event, instance: undefined })], expected: 'schema' },
  { desc: 'hostile service name', input: ['driftgate.events.h1', enc({ ...event, endpoint: { ...endpoint, service: 'web;}' } })], expected: 'schema' },
  { desc: 'JSON that is not an object', input: ['driftgate.events.h1', enc([1, 2])], expected: 'schema' },
  { desc: 'a host speaking for another host', input: ['driftgate.events.h2', enc(event)], expected: 'host_mismatch' },
  { desc: 'snapshot for another host', input: ['driftgate.snapshot.h2', enc(snapshot)], expected: 'host_mismatch' },
  { desc: 'an event on the snapshot subject', input: ['driftgate.snapshot.h1', enc(event)], expected: 'schema' },
  { desc: 'unknown subject', input: ['driftgate.other.h1', enc(event)], expected: 'bad_subject' },
]

for (const c of cases) {
  t.test(c.desc, async (t) => {
    const r = parseStreamMessage(c.input[0], c.input[1], subs)
    t.equal(r.ok ? r.value.type : r.reason, c.expected)
    if (!r.ok) t.type(r.detail, 'string')
  })
}

t.test('heartbeats', async (t) => {
  const ok = parseHeartbeat('driftgate.heartbeat.h1', enc(heartbeat), subs)
  t.equal(ok.ok, true)
  const bad = parseHeartbeat('driftgate.heartbeat.h2', enc(heartbeat), subs)
  t.equal(bad.ok ? 'ok' : bad.reason, 'host_mismatch')
  const junk = parseHeartbeat('driftgate.heartbeat.h1', enc({ ...heartbeat, capacity: 'lots' }), subs)
  t.equal(junk.ok ? 'ok' : junk.reason, 'schema')
})
