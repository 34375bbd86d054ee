import t from 'tap'
import { checkAllocationRecord, addressKey, type SnapshotMessage } from '../../src/core/index.js'
import { applyGc, bind, gcDecision, quarantineOver, release, reserve } from '../../src/registry/ipam/state.js'

const MAC1 = '02:42:0a:f0:01:05'
const MAC2 = '02:42:0a:f0:01:06'
const C1 = 'a'.repeat(64)
const C2 = 'b'.repeat(64)

function snap (host: string, time: number, containers: string[], endpoints: SnapshotMessage['endpoints'] = []): Pick<SnapshotMessage, 'host' | 'time' | 'endpoints' | 'containers'> {
  return { host, time, containers, endpoints }
}

t.test('reserve → bind → release → quarantine over', async (t) => {
  const r = reserve('mv0', '10.240.1.5', { host: 'h1', mac: MAC1 }, 100)
  t.same(checkAllocationRecord(r), r, 'records pass their schema')
  t.equal(addressKey('mv0', '10.240.1.5'), 'mv0.10-240-1-5')
  const b = bind(r, 'h1', MAC1, C1, 200)
  t.ok(b.ok)
  const bound = (b as { next: typeof r }).next
  t.match(bound, { state: 'bound', since: 200, owner: { host: 'h1', mac: MAC1, container: C1 } })
  t.match(bind(bound, 'h1', MAC1, C1, 300), { ok: true, noop: true }, 'bind again: idempotent')
  t.match(bind(bound, 'h1', MAC1, C2, 300), { ok: false, code: 'state' }, 'bound to another container')
  t.match(bind(r, 'h2', MAC1, C1, 300), { ok: false, code: 'not_owner' })
  t.match(bind(r, 'h1', MAC2, C1, 300), { ok: false, code: 'not_owner' })
  const rel = release(bound, { host: 'h1', mac: MAC1 }, 400)
  const q = (rel as { next: typeof r }).next
  t.match(q, { state: 'quarantined', since: 400, reason: 'released' })
  t.same(checkAllocationRecord(q), q)
  t.match(release(q, { host: 'h1', mac: MAC1 }, 500), { ok: true, noop: true }, 'second release: no-op')
  t.notOk(quarantineOver(q, 400 + 59_999, 60_000))
  t.ok(quarantineOver(q, 400 + 60_000, 60_000))
  t.notOk(quarantineOver(bound, 10 ** 9, 60_000), 'only quarantined records end')
})

t.test('release only from the owner; a replay for a reassigned address is refused', async (t) => {
  const r = reserve('mv0', '10.240.1.5', { host: 'h1', mac: MAC1 }, 100)
  t.match(release(r, { host: 'h2', mac: MAC1 }, 1), { ok: false, code: 'not_owner', error: /not the owner/ })
  t.match(release(r, { host: 'h1', mac: MAC2 }, 1), { ok: false, code: 'not_owner' })
  const bound = (bind(r, 'h1', MAC1, C1, 1) as { next: typeof r }).next
  t.match(release(bound, { host: 'h1', container: C2 }, 1), { ok: false, code: 'not_owner' })
  t.match(release(bound, { host: 'h1', container: C1 }, 1), { ok: true })
  t.match(release(bound, { host: 'h1' }, 1), { ok: true }, 'host only (driver restarted): host must match')
  // The address went back to the pool and now belongs to MAC2 on the same host.
  const reassigned = reserve('mv0', '10.240.1.5', { host: 'h1', mac: MAC2 }, 9)
  t.match(release(reassigned, { host: 'h1', mac: MAC1 }, 10), { ok: false, code: 'not_owner' }, 'replayed release refused')
})

t.test('gc: reserved', async (t) => {
  const r = reserve('mv0', '10.240.1.5', { host: 'h1', mac: MAC1 }, 1000)
  const ep = { service: 'web', containerId: C1, ip: '10.240.1.5', mac: MAC1, port: 80, network: 'mv0', state: 'running' as const, health: 'none' as const, weight: 1 }
  t.same(gcDecision(r, snap('h2', 99_999, []), new Set(), 99_999, 100), { kind: 'keep' }, 'another host says nothing about it')
  t.same(gcDecision(r, snap('h1', 1050, [C1], [ep]), new Set([C1]), 1050, 100), { kind: 'bind', container: C1 }, 'labelled endpoint with ip+mac binds')
  t.same(gcDecision(r, snap('h1', 1050, []), new Set(), 1050, 100), { kind: 'keep' }, 'within the grace')
  t.same(gcDecision(r, snap('h1', 1050, []), new Set(), 5000, 100), { kind: 'keep' }, 'old snapshot: taken within the grace')
  t.same(gcDecision(r, snap('h1', 1100, []), new Set(), 1100, 100), { kind: 'release', reason: 'reserve-expired' })
})

t.test('gc: bound needs two snapshots without the container', async (t) => {
  const r = { ...reserve('mv0', '10.240.1.5', { host: 'h1', mac: MAC1 }, 0), state: 'bound' as const, owner: { host: 'h1', mac: MAC1, container: C1 }, since: 1000 }
  t.same(gcDecision(r, snap('h1', 900, []), new Set(), 2000, 100), { kind: 'keep' }, 'snapshot older than the bind')
  t.same(gcDecision(r, snap('h1', 1500, [C1]), new Set([C1]), 2000, 100), { kind: 'keep' }, 'present')
  const a1 = gcDecision(r, snap('h1', 1500, []), new Set(), 2000, 100)
  t.same(a1, { kind: 'missed', missed: 1 })
  const r1 = applyGc(r, a1, 2000)!
  t.equal(r1.missed, 1)
  t.equal(r1.since, 1000, 'a miss keeps since')
  t.same(gcDecision(r1, snap('h1', 1600, [C1]), new Set([C1]), 2000, 100), { kind: 'seen' }, 'back again resets')
  t.equal(applyGc(r1, { kind: 'seen' }, 1)!.missed, 0)
  const a2 = gcDecision(r1, snap('h1', 1700, []), new Set(), 2000, 100)
  t.same(a2, { kind: 'release', reason: 'container-gone' })
  const q = applyGc(r1, a2, 3000)!
  t.match(q, { state: 'quarantined', since: 3000, reason: 'container-gone' })
  t.equal(q.missed, undefined)
  t.same(checkAllocationRecord(q), q)
  t.same(gcDecision(q, snap('h1', 5000, []), new Set(), 5000, 100), { kind: 'keep' }, 'quarantine is the sweeper\'s')
})
