// Pure parts of history/activity/dry-run: which table changes are activity,
// ps rows and their spec versions, the dry-run line diff.
import t from 'tap'
import { endpointEvent, hostEvent, assignmentEvent, ipamEvent } from '../../src/registry/activity/index.js'
import { psRows, type HistoryEntry } from '../../src/placement/index.js'
import { lineDiff, hasChanges } from '../../src/client/index.js'
import type { AssignmentRecord, EndpointRecord, HostRecord } from '../../src/core/index.js'

const ep = (o: Partial<EndpointRecord> = {}): EndpointRecord => ({
  v: 1, service: 'web', containerId: 'c'.repeat(64), ip: '10.240.0.2', mac: '02:42:0a:f0:00:02', port: 80, network: 'mv0',
  state: 'running', health: 'healthy', weight: 1, host: 'h1', instance: 'i', seq: 1, updatedAt: 1000, replica: 1, specHash: 'aaaa', ...o,
})

t.test('endpoint changes: only what an operator sees', async (t) => {
  t.equal(endpointEvent({ value: ep({ seq: 2, updatedAt: 2 }), previous: ep() }, 5), null, 'a resync rewrite is not activity')
  t.match(endpointEvent({ value: ep({ state: 'draining' }), previous: ep() }, 5), { kind: 'endpoint', service: 'web', host: 'h1', message: /running\/healthy → draining\/healthy/ })
  t.match(endpointEvent({ value: ep({ removed: true }), previous: ep() }, 5), { message: /removed$/ })
  t.match(endpointEvent({ value: ep(), previous: undefined }, 5), { message: /web replica 1 on h1 \(10\.240\.0\.2\) running\/healthy/ })
})

t.test('hosts: status changes only; placement: moves and updates', async (t) => {
  const h = { v: 1, host: 'h1', instance: 'i', capacity: { cpus: 1, memoryBytes: 1 }, allocated: { cpus: 0, memoryBytes: 0, containers: 0 }, labels: {}, lastSeen: 1, status: 'up', since: 1 } as HostRecord
  t.equal(hostEvent({ value: { ...h, lastSeen: 2 }, previous: h }, 5), null, 'a heartbeat is not activity')
  t.match(hostEvent({ value: { ...h, status: 'down' }, previous: h }, 5), { message: 'host h1 up → down' })
  const a: AssignmentRecord = { v: 1, host: 'h2', service: 'web', replica: 3, specVersion: 2, specHash: 'x', since: 1 }
  t.match(assignmentEvent({ value: a, previous: undefined }, 5), { message: 'placement: web replica 3 → h2 (version 2)' })
  t.equal(assignmentEvent({ value: { ...a, since: 9 }, previous: a }, 5), null)
  t.match(assignmentEvent({ value: undefined, previous: a }, 5), { message: /leaves h2/ })
})

t.test('ipam: pools and address state changes', async (t) => {
  t.match(ipamEvent('pool.lab', { name: 'lab' }, undefined, 5), { kind: 'ipam', message: 'pool lab created' })
  t.match(ipamEvent('lab.10-246-1-5', { state: 'bound', owner: { host: 'h1' } }, { state: 'reserved' }, 5), { message: '10.246.1.5 reserved → bound (h1)' })
  t.equal(ipamEvent('lab.10-246-1-5', { state: 'bound' }, { state: 'bound' }, 5), null)
})

t.test('ps rows: spec version by hash, newest version wins (rollbacks)', async (t) => {
  const hist = (version: number, specHash: string): HistoryEntry => ({ v: 1, service: 'web', version, specHash, at: 0, by: 'cli', reason: 'apply', spec: {} as HistoryEntry['spec'] })
  const rows = psRows([ep({ replica: 2, specHash: 'bbbb', containerId: 'd'.repeat(64) }), ep(), ep({ removed: true, containerId: 'e'.repeat(64) })],
    [{ v: 1, host: 'h1', service: 'web', replica: 1, specVersion: 3, specHash: 'aaaa', since: 777 }],
    [hist(1, 'aaaa'), hist(2, 'bbbb'), hist(3, 'aaaa')])
  t.equal(rows.length, 2, 'tombstones are not replicas')
  t.match(rows[0], { replica: 1, specVersion: 3, since: 777, container: 'cccccccccccc' })
  t.match(rows[1], { replica: 2, specVersion: 2, since: 1000 })
})

t.test('dry-run diff', async (t) => {
  const d = lineDiff('a: 1\nb: 2\nc: 3\n', 'a: 1\nb: 5\nc: 3\n')
  t.same(d, ['  a: 1', '- b: 2', '+ b: 5', '  c: 3'])
  t.ok(hasChanges(d))
  t.notOk(hasChanges(lineDiff('a: 1\n', 'a: 1\n')))
  t.same(lineDiff('', 'x: 1\n'), ['+ x: 1'])
})
