import t from 'tap'
import { decide, fromSnapshot, endpointKey, type IngestEvent } from '../../src/registry/decide.js'
import { checkEndpointRecord, type EndpointInfo, type EndpointRecord, type SnapshotMessage } from '../../src/core/index.js'

const I1 = 'lq0000001-aaaaaa' // older agent run
const I2 = 'lq0000002-bbbbbb' // newer agent run (restart)
const CID = 'a'.repeat(64)
const NOW = 1_700_000_000_000

const info = (ip = '10.240.1.10'): EndpointInfo => ({
  service: 'web', containerId: CID, ip, mac: '02:42:0a:f0:01:0a', port: 80, network: 'mv0',
  state: 'running', health: 'none', weight: 1,
})
const live = (instance: string, seq: number, host = 'h1', ip?: string): EndpointRecord =>
  ({ ...info(ip), v: 1, host, instance, seq, updatedAt: 1 })
const dead = (instance: string, seq: number, host = 'h1'): EndpointRecord =>
  ({ v: 1, service: 'web', containerId: CID, host, instance, seq, updatedAt: 1, removed: true }) as EndpointRecord
const up = (instance: string, seq: number, host = 'h1', source: IngestEvent['source'] = 'event'): IngestEvent =>
  ({ kind: 'upsert', source, host, instance, seq, service: 'web', containerId: CID, endpoint: info('10.240.1.99') })
const rm = (instance: string, seq: number, host = 'h1', source: IngestEvent['source'] = 'event'): IngestEvent =>
  ({ kind: 'remove', source, host, instance, seq, service: 'web', containerId: CID })

const cases: Array<{ desc: string, input: [EndpointRecord | null, IngestEvent], expected: { action: string, reason: string } }> = [
  { desc: 'first upsert creates the record', input: [null, up(I1, 1)], expected: { action: 'put', reason: 'new' } },
  { desc: 'first news is a removal: tombstone so an older upsert cannot resurrect', input: [null, rm(I1, 5)], expected: { action: 'tombstone', reason: 'new' } },
  { desc: 'newer seq overwrites', input: [live(I1, 3), up(I1, 4)], expected: { action: 'put', reason: 'newer' } },
  { desc: 'stale by seq is ignored', input: [live(I1, 4), up(I1, 3)], expected: { action: 'ignore', reason: 'stale' } },
  { desc: 'replay of the same seq is ignored', input: [live(I1, 4), up(I1, 4)], expected: { action: 'ignore', reason: 'replay' } },
  { desc: 'stale by instance (older agent run, higher seq) is ignored', input: [live(I2, 1), up(I1, 900)], expected: { action: 'ignore', reason: 'stale' } },
  { desc: 'newer instance after agent restart wins with a low seq', input: [live(I1, 900), up(I2, 1)], expected: { action: 'put', reason: 'newer' } },
  { desc: 'remove then older upsert: stays removed', input: [dead(I1, 6), up(I1, 5)], expected: { action: 'ignore', reason: 'stale' } },
  { desc: 'remove then newer upsert: container is back', input: [dead(I1, 6), up(I1, 7)], expected: { action: 'put', reason: 'newer' } },
  { desc: 'newer removal tombstones a live record', input: [live(I1, 6), rm(I1, 7)], expected: { action: 'tombstone', reason: 'newer' } },
  { desc: 'older removal of a live record is ignored', input: [live(I1, 6), rm(I1, 5)], expected: { action: 'ignore', reason: 'stale' } },
  { desc: 'a newer removal of a tombstone still advances the version', input: [dead(I1, 6), rm(I1, 8)], expected: { action: 'tombstone', reason: 'newer' } },
  { desc: 'another host cannot overwrite a live record', input: [live(I1, 1, 'h1'), up(I2, 9, 'h2')], expected: { action: 'ignore', reason: 'other_host' } },
  { desc: 'another host cannot remove a live record', input: [live(I1, 1, 'h1'), rm(I2, 9, 'h2')], expected: { action: 'ignore', reason: 'other_host' } },
  { desc: 'another host may reuse a tombstoned key', input: [dead(I2, 1, 'h1'), up(I1, 1, 'h2')], expected: { action: 'put', reason: 'new' } },
  { desc: 'snapshot newer than the record upserts it', input: [live(I1, 3), up(I1, 10, 'h1', 'snapshot')], expected: { action: 'put', reason: 'newer' } },
  { desc: 'snapshot repeating the record (same run) writes nothing', input: [live(I1, 3, 'h1', '10.240.1.99'), up(I1, 10, 'h1', 'snapshot')], expected: { action: 'ignore', reason: 'unchanged' } },
  { desc: 'snapshot repeating the record of an older run rewrites it', input: [live(I1, 3, 'h1', '10.240.1.99'), up(I2, 1, 'h1', 'snapshot')], expected: { action: 'put', reason: 'newer' } },
  { desc: 'snapshot repeating a tombstone brings the container back', input: [dead(I1, 3), up(I1, 10, 'h1', 'snapshot')], expected: { action: 'put', reason: 'newer' } },
  { desc: 'an event repeating the record still writes (its seq moves on)', input: [live(I1, 3, 'h1', '10.240.1.99'), up(I1, 4)], expected: { action: 'put', reason: 'newer' } },
  { desc: 'snapshot older than the record changes nothing', input: [live(I1, 11), rm(I1, 10, 'h1', 'snapshot')], expected: { action: 'ignore', reason: 'stale' } },
  { desc: 'snapshot lacking a record older than it removes it', input: [live(I1, 9), rm(I1, 10, 'h1', 'snapshot')], expected: { action: 'tombstone', reason: 'newer' } },
  { desc: 'liveness removes an unchanged record', input: [live(I1, 9), rm(I1, 9, 'h1', 'liveness')], expected: { action: 'tombstone', reason: 'newer' } },
  { desc: 'liveness leaves a record that changed since', input: [live(I1, 10), rm(I1, 9, 'h1', 'liveness')], expected: { action: 'ignore', reason: 'changed_since' } },
  { desc: 'liveness on a missing record does nothing', input: [null, rm(I1, 9, 'h1', 'liveness')], expected: { action: 'ignore', reason: 'already_removed' } },
  { desc: 'liveness on a tombstone does nothing', input: [dead(I1, 9), rm(I1, 9, 'h1', 'liveness')], expected: { action: 'ignore', reason: 'already_removed' } },
]

for (const c of cases) {
  t.test(c.desc, async (t) => {
    const d = decide(c.input[0], c.input[1], NOW)
    t.same({ action: d.action, reason: d.reason }, c.expected)
    if (d.action === 'ignore') { t.equal(d.record, undefined); return }
    const rec = d.record as EndpointRecord
    // Every record written is valid against the KV schema, carries the event's version and host.
    t.doesNotThrow(() => checkEndpointRecord(rec))
    t.equal(rec.instance, c.input[1].instance)
    t.equal(rec.seq, c.input[1].seq)
    t.equal(rec.host, c.input[1].host)
    t.equal(rec.updatedAt, NOW)
    t.equal(rec.removed === true, d.action === 'tombstone')
    if (d.action === 'put') t.equal(rec.ip, '10.240.1.99')
  })
}

t.test('a tombstone keeps what was known of the container', async (t) => {
  const d = decide(live(I1, 1), rm(I1, 2), NOW)
  t.equal(d.record?.ip, '10.240.1.10')
  t.equal(d.record?.removed, true)
})

t.test('fromSnapshot: upserts what it holds, removes the host keys it lacks, all at its version', async (t) => {
  const other = 'b'.repeat(64)
  const snap: SnapshotMessage = {
    v: 1, host: 'h1', instance: I2, seq: 7, time: 1, sentAt: 1, containers: [CID],
    endpoints: [info(), info()], // a duplicate entry counts once
  }
  const changes = fromSnapshot(snap, [endpointKey('web', CID), endpointKey('api', other)])
  t.same(changes.map((c) => [c.kind, c.service, c.containerId, c.instance, c.seq, c.source]), [
    ['upsert', 'web', CID, I2, 7, 'snapshot'],
    ['remove', 'api', other, I2, 7, 'snapshot'],
  ])
})

t.test('fromSnapshot of an empty snapshot removes every key of the host', async (t) => {
  const snap: SnapshotMessage = { v: 1, host: 'h1', instance: I2, seq: 7, time: 1, sentAt: 1, containers: [], endpoints: [] }
  t.equal(fromSnapshot(snap, ['web.' + CID]).length, 1)
})
