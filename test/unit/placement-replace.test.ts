// Replacement of unhealthy replicas (issue 19): the decision as a table,
// the replica health a leader follows from endpoint records, and the
// replacer's bump of the incarnation.
import t from 'tap'
import { EventEmitter } from 'node:events'
import { decideReplacements, REPLACE_DEFAULTS, type ReplicaInput, type ServicePolicy } from '../../src/placement/replace.js'
import { ReplicaHealth, replicaStatus } from '../../src/placement/replica-health.js'
import { Replacer } from '../../src/placement/replacer.js'
import { diffAssignments } from '../../src/placement/diff.js'
import { silentLogger, checkServiceSpec, type AssignmentRecord, type EndpointRecord, type ServiceRecord } from '../../src/core/index.js'
import type { KvTable } from '../../src/bus/index.js'

const S = 1000
const M = 60 * S
const NOW = 100 * M
const web: ServicePolicy = { replicas: 4, replaceAfterMs: 30 * S }
const big: ServicePolicy = { replicas: 8, replaceAfterMs: 30 * S }
const services = new Map([['web', web], ['big', big]])
const r = (replica: number, over: Partial<ReplicaInput> = {}, service = 'web'): ReplicaInput =>
  ({ key: `h1.${service}.${replica}`, service, replica, status: 'healthy', replacedAt: [], ...over })
const sick = (replica: number, forMs: number, over: Partial<ReplicaInput> = {}, service = 'web'): ReplicaInput =>
  r(replica, { status: 'unhealthy', unhealthySince: NOW - forMs, ...over }, service)

const rows: Array<{ desc: string, replicas: ReplicaInput[], expect: string[] }> = [
  { desc: 'all healthy: nothing', replicas: [r(0), r(1)], expect: [] },
  { desc: 'starting or without a container: nothing', replicas: [r(0, { status: 'starting' }), r(1, { status: 'missing' })], expect: [] },
  { desc: 'unhealthy for less than replaceAfter: waiting', replicas: [sick(0, 10 * S)], expect: ['0 waiting'] },
  { desc: 'unhealthy for replaceAfter: replace', replicas: [sick(0, 30 * S)], expect: ['0 replace'] },
  { desc: 'an unknown service (no health check) is never replaced', replicas: [sick(0, M, {}, 'other')], expect: [] },
  { desc: 'just replaced and not healthy yet: replacing (no second replacement)', replicas: [sick(0, 5 * M, { replacedAt: [NOW - 40 * S] })], expect: ['0 replacing'] },
  { desc: 'replaced, healthy again: nothing', replicas: [r(0, { replacedAt: [NOW - 40 * S] })], expect: [] },
  { desc: 'replaced long ago, unhealthy again: the clock restarts at the replacement', replicas: [sick(0, 10 * M, { replacedAt: [NOW - 3 * M] })], expect: ['0 replace'] },
  { desc: 'replacement stuck past inflightMs: judged again', replicas: [sick(0, 10 * M, { replacedAt: [NOW - REPLACE_DEFAULTS.inflightMs - S] })], expect: ['0 replace'] },
  { desc: '3 replacements in 10 minutes: backoff', replicas: [sick(0, 10 * M, { replacedAt: [NOW - 9 * M, NOW - 6 * M, NOW - 3 * M] })], expect: ['0 backoff'] },
  { desc: '3 replacements, the oldest out of the window: replace', replicas: [sick(0, 20 * M, { replacedAt: [NOW - 11 * M, NOW - 6 * M, NOW - 3 * M] })], expect: ['0 replace'] },
  { desc: 'whole service unhealthy (4 replicas): one at a time, longest first', replicas: [sick(0, 40 * S), sick(1, 50 * S), sick(2, M), sick(3, M)], expect: ['0 capped', '1 capped', '2 replace', '3 capped'] },
  { desc: 'a replacement under way takes the only slot', replicas: [sick(0, M), sick(1, M, { replacedAt: [NOW - 10 * S] })], expect: ['0 capped', '1 replacing'] },
  { desc: '8 replicas: 2 at a time', replicas: [0, 1, 2, 3].map((i) => sick(i, M, {}, 'big')), expect: ['0 replace', '1 replace', '2 capped', '3 capped'] },
  // Sorted by key: h1.big.0 first.
  { desc: 'caps are per service', replicas: [sick(0, M), sick(1, M), sick(0, M, {}, 'big')], expect: ['0 replace', '0 replace', '1 capped'] },
]

t.test('replacement decision table', async (t) => {
  for (const row of rows) {
    const got = decideReplacements(row.replicas, services, NOW).map((d) => `${d.replica} ${d.verdict}`)
    t.same(got, row.expect, row.desc)
  }
  const [w] = decideReplacements([sick(0, 10 * S)], services, NOW)
  t.equal(w.until, NOW + 20 * S, 'waiting: the leader wakes when replaceAfter is reached')
  const [b] = decideReplacements([sick(0, 10 * M, { replacedAt: [NOW - 9 * M, NOW - 6 * M, NOW - 3 * M] })], services, NOW)
  t.equal(b.until, NOW + M, 'backoff: until the oldest replacement leaves the window')
  t.match(b.reason, /replaced 3 times in 10m and still unhealthy; next try in 60s/)
  const [c] = decideReplacements([sick(0, M), sick(1, M)], services, NOW).filter((d) => d.verdict === 'capped')
  t.match(c.reason, /at most 1 of 4 replicas of web are replaced at once/)
})

const ep = (id: string, over: Partial<EndpointRecord> = {}): EndpointRecord => ({
  v: 1, service: 'web', containerId: id.padEnd(64, '0'), host: 'h1', instance: 'i', seq: 1, updatedAt: 0, ip: '10.240.0.2', mac: '02:00:00:00:00:02',
  port: 80, network: 'mv0', state: 'running', health: 'healthy', weight: 1, managed: true, replica: 0, ...over,
})

class FakeTable extends EventEmitter {
  entries = new Map<string, EndpointRecord>()
  put (key: string, value: EndpointRecord | undefined): void {
    const previous = this.entries.get(key)
    if (value === undefined) this.entries.delete(key); else this.entries.set(key, value)
    this.emit('change', { key, value, previous, revision: 1 })
  }
}

t.test('replica health from endpoint records', async (t) => {
  t.equal(replicaStatus([]), 'missing')
  t.equal(replicaStatus([ep('a', { health: 'unhealthy' }), ep('b', { health: 'starting' })]), 'starting', 'the best container counts')
  t.equal(replicaStatus([ep('a', { health: 'healthy', state: 'draining' }), ep('b', { health: 'unhealthy' })]), 'unhealthy', 'draining ones do not')
  let now = 1000
  const table = new FakeTable()
  const h = new ReplicaHealth(table as unknown as KvTable<EndpointRecord>, () => now)
  const changed: string[] = []
  h.on('change', (k: string) => changed.push(k))
  h.attach()
  table.put('web.a', ep('a'))
  t.same(h.view('h1.web.0'), { status: 'healthy' })
  now = 2000
  table.put('web.a', ep('a', { health: 'unhealthy' }))
  t.same(h.view('h1.web.0'), { status: 'unhealthy', unhealthySince: 2000 })
  now = 3000
  table.put('web.a', ep('a', { health: 'unhealthy', seq: 2 }))
  t.same(h.view('h1.web.0'), { status: 'unhealthy', unhealthySince: 2000 }, 'a snapshot rewrite keeps the clock')
  table.put('web.b', ep('b', { health: 'starting' }))
  t.same(h.view('h1.web.0'), { status: 'starting' }, 'the replacement container shows')
  table.put('web.a', undefined)
  table.put('web.b', undefined)
  t.same(h.view('h1.web.0'), { status: 'missing' })
  table.put('web.x', ep('x', { managed: false, replica: undefined, health: 'unhealthy' }))
  t.same(changed, ['h1.web.0', 'h1.web.0', 'h1.web.0', 'h1.web.0'], 'only managed replicas, only on changes')
})

t.test('the replacer bumps the incarnation; the diff writes it', async (t) => {
  let now = 1000
  const table = new FakeTable()
  const h = new ReplicaHealth(table as unknown as KvTable<EndpointRecord>, () => now)
  h.attach()
  let triggers = 0
  const rep = new Replacer({ health: h, log: silentLogger(), trigger: () => { triggers++ } })
  t.teardown(() => { rep.close() })
  const spec = checkServiceSpec({ name: 'web', image: 'x:1', replicas: 1, port: 80, network: 'mv0', health: { http: '/healthz', replaceAfter: '3s' } })
  const services: ServiceRecord[] = [{ v: 1, spec, version: 1, updatedAt: 0 }]
  const a: AssignmentRecord = { v: 1, host: 'h1', service: 'web', replica: 0, specVersion: 1, specHash: 'a'.repeat(16), since: 0 }
  table.put('web.a', ep('a', { health: 'unhealthy' }))
  t.ok(triggers > 0, 'a health change wakes the loop')
  t.same(rep.apply([a], services, 2000), [a], 'not yet')
  t.equal(rep.last[0].verdict, 'waiting')
  now = 4000
  const [b] = rep.apply([a], services, 4000)
  t.same({ incarnation: b.incarnation, replacedAt: b.replacedAt }, { incarnation: 1, replacedAt: [4000] })
  t.same(diffAssignments(new Map([['h1.web.0', a]]), [b], new Map([['h1.web.0', 7]])).map((w) => w.op), ['update'])
  t.same(rep.apply([b], services, 5000), [b], 'under way: no second bump')
  t.equal(rep.last[0].verdict, 'replacing')
})

t.test('driftgate status prints the unhealthy replicas with action and reason', async (t) => {
  const { renderStatus } = await import('../../src/cli/status.js')
  const base = { leader: { holder: 'r1', expiresAt: null }, failStatic: false, services: [], hosts: [], unschedulable: [] }
  t.notMatch(renderStatus(base, []), /UNHEALTHY/, 'nothing unhealthy: no table (and an older registry without the field works)')
  const text = renderStatus({ ...base, replacements: decideReplacements([sick(1, 10 * M, { replacedAt: [NOW - 9 * M, NOW - 6 * M, NOW - 3 * M] })], services, NOW) }, [])
  t.match(text, /UNHEALTHY\s+REPLICA\s+HOST\s+ACTION\s+REASON\nweb\s+1\s+h1\s+backoff\s+replaced 3 times in 10m and still unhealthy; next try in 60s/)
})
