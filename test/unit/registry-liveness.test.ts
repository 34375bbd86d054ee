import t from 'tap'
import { applyHeartbeat, assessHosts, heartbeatIsNews } from '../../src/registry/liveness.js'
import type { HeartbeatMessage, HostRecord, HostStatus } from '../../src/core/index.js'

const I1 = 'lq0000001-aaaaaa'
const I2 = 'lq0000002-bbbbbb'
const T0 = 1_700_000_000_000
const opts = { suspectMs: 6000, graceMs: 30_000, startedAt: 0 }
const cap = { cpus: 2, memoryBytes: 1e9 }
const alloc = { cpus: 0, memoryBytes: 0, containers: 0 }

const host = (name: string, lastSeen: number, status: HostStatus = 'up'): HostRecord =>
  ({ v: 1, host: name, instance: I1, capacity: cap, allocated: alloc, labels: {}, lastSeen, status, since: T0 - 100_000 })
const hb = (name: string, instance = I1): HeartbeatMessage =>
  ({ v: 1, host: name, instance, sentAt: T0, capacity: cap, allocated: alloc, labels: { rack: 'r1' } })

const statuses = (a: ReturnType<typeof assessHosts>): Record<string, string> =>
  Object.fromEntries(a.changes.map((h) => [h.host, h.status]))

const cases: Array<{ desc: string, input: { hosts: HostRecord[], now: number, startedAt?: number }, expected: { changes: Record<string, string>, failStatic: boolean } }> = [
  { desc: 'all fresh: nothing changes', input: { hosts: [host('a', T0), host('b', T0), host('c', T0)], now: T0 + 1000 }, expected: { changes: {}, failStatic: false } },
  { desc: 'one host misses 3 heartbeats: suspect', input: { hosts: [host('a', T0 - 7000), host('b', T0), host('c', T0)], now: T0 }, expected: { changes: { a: 'suspect' }, failStatic: false } },
  { desc: 'one host silent past the grace: down', input: { hosts: [host('a', T0 - 31_000, 'suspect'), host('b', T0), host('c', T0)], now: T0 }, expected: { changes: { a: 'down' }, failStatic: false } },
  { desc: 'already suspect within grace: no change', input: { hosts: [host('a', T0 - 10_000, 'suspect'), host('b', T0), host('c', T0)], now: T0 }, expected: { changes: {}, failStatic: false } },
  { desc: 'two of three silent: fail static, suspect only, nobody down', input: { hosts: [host('a', T0 - 60_000), host('b', T0 - 60_000, 'suspect'), host('c', T0)], now: T0 }, expected: { changes: { a: 'suspect' }, failStatic: true } },
  { desc: 'half silent is not more than half: the silent one goes down', input: { hosts: [host('a', T0 - 31_000), host('b', T0)], now: T0 }, expected: { changes: { a: 'down' }, failStatic: false } },
  { desc: 'hosts already down do not count', input: { hosts: [host('a', T0 - 999_000, 'down'), host('b', T0 - 999_000, 'down'), host('c', T0 - 31_000), host('d', T0), host('e', T0)], now: T0 }, expected: { changes: { c: 'down' }, failStatic: false } },
  { desc: 'a lone host going silent is fail static', input: { hosts: [host('a', T0 - 60_000)], now: T0 }, expected: { changes: { a: 'suspect' }, failStatic: true } },
  { desc: 'silence counts from the registry start at the earliest', input: { hosts: [host('a', T0 - 600_000), host('b', T0 - 600_000), host('c', T0)], now: T0, startedAt: T0 - 2000 }, expected: { changes: {}, failStatic: false } },
  { desc: 'no hosts: nothing', input: { hosts: [], now: T0 }, expected: { changes: {}, failStatic: false } },
]

for (const c of cases) {
  t.test(c.desc, async (t) => {
    const a = assessHosts(c.input.hosts, c.input.now, { ...opts, startedAt: c.input.startedAt ?? 0 })
    t.same({ changes: statuses(a), failStatic: a.failStatic }, c.expected)
    for (const h of a.changes) t.equal(h.since, c.input.now, 'a status change restarts `since`')
  })
}

t.test('heartbeat: a new host is up, since now', async (t) => {
  const r = applyHeartbeat(null, hb('a'), T0)
  t.match(r, { host: 'a', status: 'up', lastSeen: T0, since: T0, labels: { rack: 'r1' } })
})

t.test('heartbeat: an up host keeps its since; a down host comes back up', async (t) => {
  t.equal(applyHeartbeat(host('a', T0 - 2000), hb('a'), T0)?.since, T0 - 100_000)
  t.match(applyHeartbeat(host('a', T0 - 99_000, 'down'), hb('a'), T0), { status: 'up', since: T0 })
})

t.test('heartbeat: from an older agent run is ignored, a newer run is taken', async (t) => {
  t.equal(applyHeartbeat({ ...host('a', T0), instance: I2 }, hb('a', I1), T0), null)
  t.equal(applyHeartbeat(host('a', T0), hb('a', I2), T0)?.instance, I2)
})

t.test('heartbeat writes: only lastSeen moving by less than the refresh is skipped', async (t) => {
  const cur = { ...host('a', T0 - 1000), labels: { rack: 'r1' } }
  const next = (now: number, h = hb('a')) => applyHeartbeat(cur, h, now) as HostRecord
  t.notOk(heartbeatIsNews(cur, next(T0), 3000), 'lastSeen 1 s old, nothing else new: not written')
  t.ok(heartbeatIsNews(cur, next(T0 + 2000), 3000), 'lastSeen 3 s old: written')
  t.ok(heartbeatIsNews(null, next(T0), 3000), 'a new host: written')
  t.ok(heartbeatIsNews({ ...cur, status: 'suspect' }, next(T0), 3000), 'a suspect host comes back up: written')
  t.ok(heartbeatIsNews(cur, next(T0, { ...hb('a'), labels: { rack: 'r2' } }), 3000), 'new labels: written')
  t.ok(heartbeatIsNews(cur, next(T0, { ...hb('a'), allocated: { ...alloc, containers: 1 } }), 3000), 'new allocation: written')
  t.ok(heartbeatIsNews(cur, next(T0, hb('a', I2)), 3000), 'a new agent run: written')
  t.ok(heartbeatIsNews(cur, next(T0, { ...hb('a'), address: '10.240.0.9' }), 3000), 'a new address: written')
})

t.test('a host beating every 2 s, written every other beat, never looks suspect', async (t) => {
  let rec: HostRecord | null = null
  let writes = 0
  for (let now = T0; now < T0 + 60_000; now += 2000) {
    const next = applyHeartbeat(rec, hb('a'), now) as HostRecord
    if (heartbeatIsNews(rec, next, opts.suspectMs / 2)) { rec = next; writes++ }
    // the sweep just before the next beat (plus 500 ms of delivery delay)
    t.same(assessHosts([rec as HostRecord], now + 2500, opts).silent, [], `not suspect at +${now - T0} ms`)
  }
  t.equal(writes, 15, '30 beats, 15 writes')
})
