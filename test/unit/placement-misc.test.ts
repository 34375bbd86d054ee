import t from 'tap'
import { ValidationError } from '../../src/core/index.js'
import { mergePatch, patchSpec, specFromBody } from '../../src/placement/spec-input.js'
import { diffAssignments, hostMatters } from '../../src/placement/diff.js'
import { placementStatus } from '../../src/placement/status.js'
import { assigned, host, spec } from './placement-fixtures.js'

const body = { image: 'web:1', replicas: 3, port: 80, network: 'mv0' }

t.test('specFromBody: name from the URL, defaults, field-named errors, body untouched', async (t) => {
  const copy = structuredClone(body)
  const s = specFromBody('web', copy)
  t.equal(s.name, 'web')
  t.same(s.placement, { spread: 'host' })
  t.same(copy, body, 'the request body is not mutated by ajv defaults')
  const cases: Array<[string, unknown, RegExp]> = [
    ['array', [], /must be an object/],
    ['name mismatch', { ...body, name: 'api' }, /\/name/],
    ['missing image', { ...body, image: undefined }, /image/],
    ['bad env name', { ...body, env: { 'A-B': 'x' } }, /\/env/],
    ['bad health path', { ...body, health: { http: 'healthz' } }, /\/health\/http/],
    ['bad grace', { ...body, stopGracePeriod: '20 seconds' }, /\/stopGracePeriod/],
  ]
  for (const [desc, input, re] of cases) {
    const err = t.throws(() => specFromBody('web', input), desc) as ValidationError
    t.ok(err instanceof ValidationError, desc)
    t.match(err.message, re, desc)
  }
})

t.test('mergePatch and patchSpec', async (t) => {
  t.same(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), { a: 1, b: { d: 3, e: 4 }, f: [1] })
  const cur = specFromBody('web', { ...body, env: { A: '1' } })
  t.equal(patchSpec(cur, { replicas: 5 }).replicas, 5)
  t.same(patchSpec(cur, { env: { B: '2' } }).env, { A: '1', B: '2' })
  t.throws(() => patchSpec(cur, { name: 'other' }), /cannot be renamed/)
  t.throws(() => patchSpec(cur, {}), /non-empty object/)
  t.throws(() => patchSpec(cur, { replicas: 'five' }), /\/replicas/)
})

t.test('diffAssignments: creates, updates with revision, deletes last', async (t) => {
  const web = spec('web', 3)
  const cur = new Map([['h1.web.0', assigned('h1.web.0', web)], ['h2.web.1', assigned('h2.web.1', web)]])
  const revs = new Map([['h1.web.0', 7], ['h2.web.1', 8]])
  const moved = assigned('h3.web.1', web, 50)
  const changed = { ...assigned('h1.web.0', web), specHash: 'abcdef0123456789' }
  const w = diffAssignments(cur, [changed, moved], revs)
  t.same(w.map((x) => `${x.op} ${x.key} ${'revision' in x ? x.revision : '-'}`), ['create h3.web.1 -', 'update h1.web.0 7', 'delete h2.web.1 8'])
  t.same(diffAssignments(cur, [...cur.values()], revs), [], 'nothing to write when equal')
})

t.test('hostMatters ignores heartbeat-only changes', async (t) => {
  const h = host('h1')
  t.notOk(hostMatters(h, { ...h, lastSeen: 99, allocated: { cpus: 1, memoryBytes: 1, containers: 1 } } as typeof h))
  t.ok(hostMatters(h, { ...h, status: 'down' }))
  t.ok(hostMatters(h, { ...h, labels: { rack: 'a' } }))
  t.ok(hostMatters(undefined, h))
})

t.test('placementStatus', async (t) => {
  const web = spec('web', 2, { cpu: 1, memory: '1Gi' })
  const big = spec('big', 1, { memory: '64Gi' })
  const st = placementStatus({
    services: [{ v: 1, ...web, updatedAt: 1 }, { v: 1, ...big, updatedAt: 1 }],
    hosts: [host('h2'), host('h1')],
    assignments: [assigned('h1.web.0', web), assigned('h2.web.1', web)],
    lease: { holder: 'reg-a', expiresAt: 5, revision: 3 },
  })
  t.same(st.services.map((s) => [s.name, s.desired, s.assigned]), [['big', 1, 0], ['web', 2, 2]])
  t.same(st.hosts.map((h) => [h.host, h.replicas, h.used.cpus, h.used.memoryBytes]), [['h1', 1, 1, 1024 ** 3], ['h2', 1, 1, 1024 ** 3]])
  t.same(st.unschedulable, [{ service: 'big', replica: 0, reason: 'needs 64Gi memory, largest free is 7Gi on h1' }])
  t.same(st.leader, { holder: 'reg-a', expiresAt: 5 })
})
