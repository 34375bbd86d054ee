// Fuzz of what agents send (events, snapshots, heartbeats) and of IPAM
// request payloads, at the registry's parse → decide path. Properties:
// nothing throws; what is accepted is schema-valid, speaks for the subject's
// host and routes only endpoint addresses; what is refused changes no state.
import t from 'tap'
import fc from 'fast-check'
import {
  checkAllocateRequest, checkBindRequest, checkEndpointRecord, checkPoolQuery, checkReleaseRequest,
  isDnsLabel, isEndpointIPv4, isIPv4, type EndpointRecord,
} from '../../src/core/index.js'
import { subjects } from '../../src/bus/index.js'
import { parseHeartbeat, parseStreamMessage } from '../../src/registry/parse.js'
import { decide, fromEvent, fromSnapshot, keyOf } from '../../src/registry/decide.js'
import { containerId, fuzzParams, ipv4, mac } from './fuzz-arbitraries.js'

const subs = subjects('driftgate')
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const REASONS = new Set(['oversized', 'not_utf8', 'not_json', 'unknown_version', 'schema', 'host_mismatch', 'bad_subject'])
const I1 = 'lq0000001-aaaaaa'

/** Mostly a valid value, sometimes one of the near misses. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>): fc.Arbitrary<T | U> =>
  fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: invalid, weight: 1 })

const endpoint = fc.record({
  service: mostly(fc.constantFrom('web', 'api'), fc.oneof(fc.constantFrom('x;}server{', 'WEB', ''), fc.string({ maxLength: 10 }))),
  containerId,
  ip: ipv4,
  mac,
  port: mostly(fc.integer({ min: 1, max: 65535 }), fc.constantFrom(0, 70000, 1.5)),
  network: mostly(fc.constant('mv0'), fc.constantFrom('mv 0', '')),
  state: mostly(fc.constantFrom('running', 'draining', 'paused'), fc.constant('dead')),
  health: mostly(fc.constantFrom('healthy', 'unhealthy', 'starting', 'none'), fc.constant('ok')),
  weight: mostly(fc.integer({ min: 1, max: 100 }), fc.constantFrom(0, 101)),
})
const host = mostly(fc.constantFrom('h1', 'h1', 'h1', 'h2'), fc.constantFrom('H1', 'h1.evil', ''))
const instance = mostly(fc.constant(I1), fc.constant('nope'))
const event = fc.record({
  v: mostly(fc.constant(1), fc.constantFrom(2, '1')),
  kind: mostly(fc.constantFrom('upsert', 'remove'), fc.constant('delete')),
  host,
  instance,
  seq: mostly(fc.nat(), fc.constant(-1)),
  time: fc.nat(),
  sentAt: fc.nat(),
  endpoint,
})
const snapshot = fc.record({
  v: mostly(fc.constant(1), fc.constant(2)), host, instance, seq: fc.nat(), time: fc.nat(), sentAt: fc.nat(),
  endpoints: fc.array(endpoint, { maxLength: 4 }), containers: fc.array(containerId, { maxLength: 4 }),
})
const heartbeat = fc.record({
  v: mostly(fc.constant(1), fc.constant(2)), host, instance, sentAt: fc.nat(),
  address: fc.option(ipv4, { nil: undefined }),
  capacity: fc.record({ cpus: mostly(fc.nat(64), fc.constant(-1)), memoryBytes: fc.nat() }),
  allocated: fc.record({ cpus: fc.nat(64), memoryBytes: fc.nat(), containers: fc.nat(100) }),
  labels: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
}).map((h) => JSON.parse(JSON.stringify(h)) as Record<string, unknown>)
/** A message, or its JSON with one field replaced by anything, or raw bytes. */
const mutate = <T extends Record<string, unknown>>(arb: fc.Arbitrary<T>): fc.Arbitrary<Uint8Array> => fc.oneof(
  { arbitrary: arb.map(enc), weight: 4 },
  fc.tuple(arb, fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })).map(([m, k, v]) => {
    const keys = Object.keys(m)
    return enc({ ...m, [keys[k.length % keys.length]]: v })
  }),
  fc.jsonValue({ maxDepth: 3 }).map(enc),
  fc.uint8Array({ maxLength: 200 }),
)
const subject = fc.oneof(
  { arbitrary: fc.constantFrom('driftgate.events.h1', 'driftgate.snapshot.h1'), weight: 4 },
  fc.constantFrom('driftgate.events.h1', 'driftgate.snapshot.h1', 'driftgate.events.h2', 'driftgate.snapshot.h2', 'driftgate.events.', 'driftgate.events.h1.x', 'other.events.h1'),
  fc.string({ maxLength: 30 }),
)

/** The registry's ingest in miniature: parse, then decide against an endpoint table. */
function ingest (table: Map<string, EndpointRecord>, subj: string, data: Uint8Array): boolean {
  const parsed = parseStreamMessage(subj, data, subs)
  if (!parsed.ok) {
    if (!REASONS.has(parsed.reason)) throw new Error(`unknown reason ${parsed.reason}`)
    return false
  }
  const v = parsed.value
  const changes = v.type === 'event' ? [fromEvent(v.msg)] : fromSnapshot(v.msg, [...table.keys()].filter((k) => table.get(k)?.host === v.msg.host))
  if (v.msg.host !== subj.split('.').at(-1)) throw new Error('accepted a message for another host')
  for (const c of changes) {
    const d = decide(table.get(keyOf(c)) ?? null, c, 1)
    if (d.record !== undefined) {
      const p = checkEndpointRecord.problems(d.record)
      if (p !== null) throw new Error(`accepted input wrote an invalid record: ${JSON.stringify(p)}`)
      if (d.record.removed !== true && !isEndpointIPv4(d.record.ip)) throw new Error(`routable record with ${d.record.ip}`)
      table.set(keyOf(c), d.record)
    }
  }
  return true
}

let accepted = 0
let refused = 0
t.test('events and snapshots: parse → decide', async (t) => {
  const seed: EndpointRecord = {
    v: 1, service: 'web', containerId: 'c'.repeat(64), ip: '10.240.1.2', mac: '02:42:0a:f0:01:02', port: 80, network: 'mv0',
    state: 'running', health: 'none', weight: 1, host: 'h1', instance: I1, seq: 5, updatedAt: 1,
  }
  fc.assert(fc.property(subject, fc.oneof(mutate(event), mutate(snapshot)), (subj, data) => {
    const table = new Map([[keyOf({ service: seed.service, containerId: seed.containerId } as never), seed]])
    const before = JSON.stringify([...table])
    if (ingest(table, subj, data)) accepted++
    else {
      refused++
      if (JSON.stringify([...table]) !== before) throw new Error('a refused message changed the table')
    }
  }), fuzzParams(3000))
  t.ok(accepted > 0 && refused > 0, `both outcomes exercised (${accepted} accepted, ${refused} refused)`)
  t.comment(`stream messages: ${accepted} accepted, ${refused} refused`)
})

t.test('heartbeats', async (t) => {
  let ok = 0
  fc.assert(fc.property(fc.constantFrom('driftgate.heartbeat.h1', 'driftgate.heartbeat.h2', 'driftgate.heartbeat', 'x'), mutate(heartbeat), (subj, data) => {
    const r = parseHeartbeat(subj, data, subs)
    if (!r.ok) return REASONS.has(r.reason)
    ok++
    return r.value.host === subj.split('.').at(-1) && isDnsLabel(r.value.host)
  }), fuzzParams(1500))
  t.ok(ok > 0, `some heartbeats accepted (${ok})`)
})

t.test('IPAM request payloads (schema level)', async (t) => {
  const fields = {
    v: mostly(fc.constant(1), fc.constant(2)),
    pool: mostly(fc.constant('mv0'), fc.constantFrom('mv0.x', '*', '')),
    host: mostly(fc.constant('h1'), fc.constantFrom('h1.>', 'h*', '')),
    mac,
    ip: ipv4,
    containerId,
    container: containerId,
    subnet: mostly(fc.constant('10.240.0.0/24'), fc.constantFrom('10.240.0.0/33', 'x')),
  }
  const pick = (keys: Array<keyof typeof fields>, optional: Array<keyof typeof fields>): fc.Arbitrary<Record<string, unknown>> =>
    fc.record(Object.fromEntries([...keys, ...optional].map((k) => [k, fields[k]])), { requiredKeys: keys }) as fc.Arbitrary<Record<string, unknown>>
  const req = fc.oneof(
    pick(['v', 'pool', 'host', 'mac'], ['ip']),
    pick(['v', 'host', 'mac', 'containerId', 'ip'], ['pool']),
    pick(['v', 'pool', 'ip', 'host'], ['mac', 'container']),
    pick(['v'], ['pool', 'subnet']),
  )
  const checks = [checkAllocateRequest, checkBindRequest, checkReleaseRequest, checkPoolQuery]
  let ok = 0
  fc.assert(fc.property(fc.oneof({ arbitrary: req, weight: 5 }, fc.anything({ maxDepth: 2 })), fc.nat(3), (body, i) => {
    const p = checks[i].problems(body)
    if (p !== null) return p.length > 0
    ok++
    // What reaches a subject or a KV key is a plain label; addresses are addresses.
    const b = body as Record<string, unknown>
    for (const k of ['pool', 'host'] as const) if (b[k] !== undefined && !isDnsLabel(b[k])) return false
    return b.ip === undefined || isIPv4(b.ip)
  }), fuzzParams(3000))
  t.ok(ok > 0, `some requests accepted (${ok})`)
})
