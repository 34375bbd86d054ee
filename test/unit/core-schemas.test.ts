import t from 'tap'
import { checkEvent, checkSnapshot, checkServiceSpec, checkEndpointRecord, ValidationError, specHash } from '../../src/core/index.js'
import { decodeJson, MAX_MESSAGE_BYTES } from '../../src/bus/index.js'

const cid = 'a'.repeat(64)
const endpoint = {
  service: 'web', containerId: cid, ip: '10.240.1.5', mac: '02:42:0a:f0:01:05', port: 80,
  network: 'mv0', state: 'running', health: 'none', weight: 1,
}
const event = {
  v: 1, kind: 'upsert', host: 'h1', instance: '00abcdefg-0a0b0c', seq: 1, time: 1, sentAt: 2, endpoint,
}

const cases: Array<{ desc: string, input: unknown, valid: boolean }> = [
  { desc: 'valid upsert', input: event, valid: true },
  { desc: 'valid remove with only service and id', input: { ...event, kind: 'remove', endpoint: { service: 'web', containerId: cid } }, valid: true },
  { desc: 'upsert lacking ip', input: { ...event, endpoint: { ...endpoint, ip: undefined } }, valid: false },
  { desc: 'hostile service name', input: { ...event, endpoint: { ...endpoint, service: 'x;}server{listen 1' } }, valid: false },
  { desc: 'newline in service', input: { ...event, endpoint: { ...endpoint, service: 'web\n' } }, valid: false },
  { desc: 'ip not an address', input: { ...event, endpoint: { ...endpoint, ip: '10.0.0.1; drop' } }, valid: false },
  { desc: 'port out of range', input: { ...event, endpoint: { ...endpoint, port: 70000 } }, valid: false },
  { desc: 'weight out of range', input: { ...event, endpoint: { ...endpoint, weight: 0 } }, valid: false },
  { desc: 'unknown version', input: { ...event, v: 2 }, valid: false },
  { desc: 'wrong type of seq', input: { ...event, seq: '1' }, valid: false },
  { desc: 'host not a label', input: { ...event, host: 'H1.evil' }, valid: false },
  { desc: 'extra field', input: { ...event, extra: true }, valid: false },
  { desc: 'not an object', input: 'hello', valid: false },
]

t.test('event schema', async (t) => {
  for (const c of cases) t.equal(checkEvent.problems(c.input) === null, c.valid, c.desc)
  t.throws(() => checkEvent({ ...event, seq: -1 }), ValidationError)
})

t.test('snapshot schema', async (t) => {
  const snap = { v: 1, host: 'h1', instance: event.instance, seq: 3, time: 1, sentAt: 1, endpoints: [endpoint], containers: [cid] }
  t.equal(checkSnapshot.problems(snap), null)
  t.not(checkSnapshot.problems({ ...snap, endpoints: [{ ...endpoint, mac: 'zz' }] }), null)
})

t.test('endpoint record: a tombstone may lack address fields', async (t) => {
  const base = { v: 1, service: 'web', containerId: cid, host: 'h1', instance: event.instance, seq: 4, updatedAt: 1 }
  t.equal(checkEndpointRecord.problems({ ...base, removed: true }), null)
  t.not(checkEndpointRecord.problems(base), null, 'a live record needs ip, port, ...')
  t.equal(checkEndpointRecord.problems({ ...base, ...endpoint }), null)
})

t.test('service spec: defaults, errors name the field', async (t) => {
  const spec = checkServiceSpec({ name: 'web', image: 'web:1', replicas: 3, port: 8080, network: 'mv0' })
  t.same(spec.placement, { spread: 'host' })
  t.same(spec.env, {})
  const err = t.throws(() => checkServiceSpec({ name: 'Web!', image: 'web:1', replicas: -1, port: 8080, network: 'mv0', resources: { memory: 'lots' } })) as ValidationError
  t.match(err.message, /\/name/)
  t.match(err.message, /\/replicas/)
  t.match(err.message, /\/resources\/memory/)
  t.equal(specHash({ ...spec, replicas: 9 }), specHash(spec), 'scaling does not change the spec hash')
  t.not(specHash({ ...spec, image: 'web:2' }), specHash(spec))
})

t.test('decodeJson rejects oversized, non-UTF-8 and non-JSON input', async (t) => {
  t.same(decodeJson(new TextEncoder().encode('{"a":1}')), { ok: true, value: { a: 1 } })
  t.same(decodeJson(new Uint8Array(MAX_MESSAGE_BYTES + 1)), { ok: false, reason: 'oversized' })
  t.same(decodeJson(new Uint8Array([0xff, 0xfe])), { ok: false, reason: 'not_utf8' })
  t.same(decodeJson(new TextEncoder().encode('{nope')), { ok: false, reason: 'not_json' })
})
