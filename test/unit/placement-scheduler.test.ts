import t from 'tap'
import { schedule, isFailStatic } from '../../src/placement/scheduler.js'
import { formatBytes } from '../../src/placement/capacity.js'
import type { ScheduleInput } from '../../src/placement/types.js'
import { assigned, host, keys, perHost, spec } from './placement-fixtures.js'

const NOW = 1000
const web3 = spec('web', 3)
const web6 = spec('web', 6)
const h3 = [host('h1'), host('h2'), host('h3')]
const spread6 = ['h1.web.0', 'h2.web.1', 'h3.web.2', 'h1.web.3', 'h2.web.4', 'h3.web.5']

interface Case {
  desc: string
  input: ScheduleInput
  expected: { keys?: string[], perHost?: Record<string, number>, unschedulable?: string[], failStatic?: boolean }
}

const cases: Case[] = [
  { desc: 'nothing to do', input: { specs: [], hosts: h3, assignments: [] }, expected: { keys: [], unschedulable: [] } },
  {
    desc: '3 replicas on 3 hosts spread 1/1/1',
    input: { specs: [web3], hosts: h3, assignments: [] },
    expected: { keys: ['h1.web.0', 'h2.web.1', 'h3.web.2'] },
  },
  {
    desc: '6 replicas on 3 hosts spread 2/2/2',
    input: { specs: [web6], hosts: h3, assignments: [] },
    expected: { perHost: { h1: 2, h2: 2, h3: 2 } },
  },
  {
    desc: 'stable: scaling 3 → 6 keeps the first three where they are',
    input: { specs: [web6], hosts: h3, assignments: ['h3.web.0', 'h1.web.1', 'h2.web.2'].map((k) => assigned(k, web6)) },
    expected: { keys: ['h1.web.1', 'h1.web.3', 'h2.web.2', 'h2.web.4', 'h3.web.0', 'h3.web.5'] },
  },
  {
    desc: 'scale 6 → 3 removes from crowded hosts, highest replica first',
    input: { specs: [web3], hosts: h3, assignments: spread6.map((k) => assigned(k, web6)) },
    expected: { keys: ['h1.web.0', 'h2.web.1', 'h3.web.2'] },
  },
  {
    desc: 'scale 6 → 1 keeps replica 0',
    input: { specs: [spec('web', 1)], hosts: h3, assignments: spread6.map((k) => assigned(k, web6)) },
    expected: { keys: ['h1.web.0'] },
  },
  {
    desc: 'scale-down on uneven hosts evens them out',
    input: { specs: [spec('web', 2)], hosts: h3, assignments: ['h1.web.0', 'h1.web.1', 'h1.web.2', 'h2.web.3'].map((k) => assigned(k, web3)) },
    expected: { keys: ['h1.web.0', 'h2.web.3'] },
  },
  {
    desc: 'down host: its replicas move, keeping their index',
    input: {
      specs: [web6],
      hosts: [host('h1'), host('h2'), host('h3', { status: 'down' })],
      assignments: spread6.map((k) => assigned(k, web6)),
    },
    expected: { perHost: { h1: 3, h2: 3 }, keys: ['h1.web.0', 'h1.web.2', 'h1.web.3', 'h2.web.1', 'h2.web.4', 'h2.web.5'] },
  },
  {
    desc: 'suspect host keeps its replicas but gets no new one',
    input: {
      specs: [spec('web', 4)],
      hosts: [host('h1'), host('h2'), host('h3', { status: 'suspect' })],
      assignments: ['h1.web.0', 'h2.web.1', 'h3.web.2'].map((k) => assigned(k, web3)),
    },
    expected: { perHost: { h1: 2, h2: 1, h3: 1 } },
  },
  {
    desc: 'fail static: 2 of 3 hosts down, nothing moves; new replicas go to the up host',
    input: {
      specs: [spec('web', 4)],
      hosts: [host('h1'), host('h2', { status: 'down' }), host('h3', { status: 'down' })],
      assignments: ['h1.web.0', 'h2.web.1', 'h3.web.2'].map((k) => assigned(k, web3)),
    },
    expected: { keys: ['h1.web.0', 'h1.web.3', 'h2.web.1', 'h3.web.2'], failStatic: true },
  },
  {
    desc: 'assignment on a host with no record moves (it counts as down)',
    input: { specs: [web3], hosts: h3, assignments: ['h1.web.0', 'h2.web.1', 'h9.web.2'].map((k) => assigned(k, web3)) },
    expected: { keys: ['h1.web.0', 'h2.web.1', 'h3.web.2'] },
  },
  {
    desc: 'more memory than any host has is unschedulable with the reason',
    input: { specs: [spec('big', 1, { memory: '64Gi' })], hosts: [host('h1', { memGi: 4 }), host('h2', { memGi: 8 })], assignments: [] },
    expected: { keys: [], unschedulable: ['big.0: needs 64Gi memory, largest free is 8Gi on h2'] },
  },
  {
    desc: 'more cpu than any host has',
    input: { specs: [spec('big', 1, { cpu: 16 })], hosts: [host('h1', { cpus: 2 }), host('h2', { cpus: 1.5 })], assignments: [] },
    expected: { unschedulable: ['big.0: needs 16 cpu, largest free is 2 on h1'] },
  },
  {
    desc: 'capacity runs out: the rest is reported',
    input: { specs: [spec('api', 4, { cpu: 1 })], hosts: [host('h1', { cpus: 1 }), host('h2', { cpus: 1 })], assignments: [] },
    expected: {
      keys: ['h1.api.0', 'h2.api.1'],
      unschedulable: ['api.2: needs 1 cpu, largest free is 0 on h1', 'api.3: needs 1 cpu, largest free is 0 on h1'],
    },
  },
  {
    desc: 'existing replicas of other services are counted against capacity',
    input: {
      specs: [spec('a', 1, { memory: '6Gi' }), spec('b', 1, { memory: '6Gi' })],
      hosts: [host('h1'), host('h2')],
      assignments: [assigned('h2.b.0', spec('b', 1, { memory: '6Gi' }))],
    },
    expected: { keys: ['h1.a.0', 'h2.b.0'] },
  },
  {
    desc: 'no host up',
    input: { specs: [web3], hosts: [host('h1', { status: 'suspect' })], assignments: [] },
    expected: { unschedulable: ['web.0: no host is up (h1 suspect)', 'web.1: no host is up (h1 suspect)', 'web.2: no host is up (h1 suspect)'] },
  },
  {
    desc: 'no host known',
    input: { specs: [spec('web', 1)], hosts: [], assignments: [] },
    expected: { unschedulable: ['web.0: no hosts are known: start an agent on each Docker host'] },
  },
  {
    desc: 'spread over a host label: one per rack before doubling up',
    input: {
      specs: [spec('web', 2, { spread: 'rack' })],
      hosts: [host('h1', { labels: { rack: 'a' } }), host('h2', { labels: { rack: 'a' } }), host('h3', { labels: { rack: 'b' } })],
      assignments: [],
    },
    expected: { keys: ['h1.web.0', 'h3.web.1'] },
  },
  {
    desc: 'a deleted service loses its assignments',
    input: { specs: [], hosts: h3, assignments: ['h1.web.0'].map((k) => assigned(k, web3)) },
    expected: { keys: [] },
  },
  {
    desc: 'a replica assigned twice keeps the older copy',
    input: { specs: [spec('web', 1)], hosts: h3, assignments: [assigned('h2.web.0', web3, 5), assigned('h1.web.0', web3, 9)] },
    expected: { keys: ['h2.web.0'] },
  },
  {
    desc: 'a spec that grew over-commits a host: the newest replica moves',
    input: {
      specs: [spec('web', 2, { memory: '5Gi' }, 2)],
      hosts: [host('h1'), host('h2')],
      assignments: [assigned('h1.web.0', web3, 1), assigned('h1.web.1', web3, 2)],
    },
    expected: { keys: ['h1.web.0', 'h2.web.1'] },
  },
]

t.test('scheduler table', async (t) => {
  for (const c of cases) {
    const r = schedule({ now: NOW, ...c.input })
    const e = c.expected
    if (e.keys !== undefined) t.same(keys(r), e.keys, `${c.desc}: assignments`)
    if (e.perHost !== undefined) t.same(perHost(r, 'web'), e.perHost, `${c.desc}: per host`)
    if (e.unschedulable !== undefined) {
      t.same(r.unschedulable.map((u) => `${u.service}.${u.replica}: ${u.reason}`), e.unschedulable, `${c.desc}: unschedulable`)
    }
    t.equal(r.failStatic, e.failStatic ?? false, `${c.desc}: failStatic`)
  }
})

t.test('stable: a kept replica is returned unchanged; a moved one gets a new since', async (t) => {
  const before = spread6.map((k) => assigned(k, web6, 7))
  const r = schedule({ now: NOW, specs: [web6], hosts: [host('h1'), host('h2'), host('h3', { status: 'down' })], assignments: before })
  t.same(r.assignments.find((a) => a.host === 'h1' && a.replica === 0), before[0])
  t.equal(r.assignments.find((a) => a.replica === 2)?.since, NOW)
  const again = schedule({ now: NOW + 1, specs: [web6], hosts: [host('h1'), host('h2'), host('h3', { status: 'down' })], assignments: r.assignments })
  t.same(again.assignments, r.assignments, 'running it twice changes nothing')
})

t.test('a changed spec keeps hosts and updates hash and version', async (t) => {
  const v2 = spec('web', 3, { image: 'web:2' }, 2)
  const r = schedule({ now: NOW, specs: [v2], hosts: h3, assignments: ['h1.web.0', 'h2.web.1', 'h3.web.2'].map((k) => assigned(k, web3)) })
  t.same(keys(r), ['h1.web.0', 'h2.web.1', 'h3.web.2'])
  t.ok(r.assignments.every((a) => a.specHash === assigned('h1.web.0', v2).specHash && a.specVersion === 2 && a.since === 1))
  const scaled = schedule({ now: NOW, specs: [spec('web', 3, {}, 3)], hosts: h3, assignments: ['h1.web.0'].map((k) => assigned(k, web3)) })
  t.equal(scaled.assignments[0].specVersion, 1, 'a version bump without a hash change does not rewrite the record')
})

t.test('isFailStatic counts hosts named only by assignments as down', async (t) => {
  t.equal(isFailStatic([host('h1'), host('h2', { status: 'down' })], []), false, 'exactly half is not more than half')
  t.equal(isFailStatic([host('h1')], [assigned('h8.web.0', web3), assigned('h9.web.1', web3)]), true)
  t.equal(isFailStatic([], []), false)
})

t.test('formatBytes', async (t) => {
  t.equal(formatBytes(64 * 1024 ** 3), '64Gi')
  t.equal(formatBytes(256 * 1024 ** 2), '256Mi')
  t.equal(formatBytes(1.5 * 1024 ** 3), '1.5Gi')
  t.equal(formatBytes(12), '12B')
})
