// Operator writes on autoscaled services (src/placement/autoscale/manual.ts),
// `driftgate scale web=2..10`, and the status table's autoscale rows.
import t from 'tap'
import { ConflictError, checkServiceSpec, type ServiceSpec } from '../../src/core/index.js'
import { refuseManualReplicas, withAutoscaledReplicas } from '../../src/placement/autoscale/manual.js'
import { patchSpec } from '../../src/placement/spec-input.js'
import { parseTargets } from '../../src/cli/scale.js'
import { renderAutoscale } from '../../src/cli/status.js'

const spec = (replicas: number, autoscale?: object): ServiceSpec => checkServiceSpec(structuredClone({
  name: 'web', image: 'web:1', replicas, port: 80, network: 'mv0', resources: { cpu: 0.5 }, ...(autoscale !== undefined ? { autoscale } : {}),
}))
const range = { min: 2, max: 10, cpu: 70 }

const putCases: Array<{ desc: string, next: ServiceSpec, cur: ServiceSpec | null, expected: number }> = [
  { desc: 'new service: the file\'s count', next: spec(3, range), cur: null, expected: 3 },
  { desc: 'new service below min: min', next: spec(1, range), cur: null, expected: 2 },
  { desc: 're-apply keeps what the autoscaler reached', next: spec(2, range), cur: spec(7, range), expected: 7 },
  { desc: 're-apply with a lower max: clamped to it', next: spec(2, { ...range, max: 5 }), cur: spec(7, range), expected: 5 },
  { desc: 'autoscale newly added: the file\'s count, within range', next: spec(20, range), cur: spec(4), expected: 10 },
  { desc: 'no autoscale: untouched', next: spec(4), cur: spec(7, range), expected: 4 },
]
for (const c of putCases) {
  t.test(`PUT: ${c.desc}`, async (t) => { t.equal(withAutoscaledReplicas(c.next, c.cur).replicas, c.expected) })
}

t.test('PATCH replicas on an autoscaled service: refused, naming autoscale.min/max', async (t) => {
  const cur = spec(4, range)
  const err = t.throws(() => refuseManualReplicas(cur, { replicas: 6 }, patchSpec(cur, { replicas: 6 }))) as ConflictError
  t.ok(err instanceof ConflictError)
  t.match(err.message, /service "web" is autoscaled \(autoscale\.min 2, autoscale\.max 10\).*driftgate scale web=2\.\.10/)
  t.doesNotThrow(() => refuseManualReplicas(cur, { replicas: 4 }, patchSpec(cur, { replicas: 4 })), 'the same count is no change')
  t.doesNotThrow(() => refuseManualReplicas(cur, { replicas: 6, autoscale: null }, patchSpec(cur, { replicas: 6, autoscale: null })), 'autoscale removed with it')
  t.doesNotThrow(() => refuseManualReplicas(spec(4), { replicas: 6 }, patchSpec(spec(4), { replicas: 6 })), 'not autoscaled')
  const next = patchSpec(cur, { autoscale: { min: 5, max: 8 } })
  refuseManualReplicas(cur, { autoscale: { min: 5, max: 8 } }, next)
  t.equal(withAutoscaledReplicas(next, cur).replicas, 5, 'a new range moves the count into it')
})

t.test('scale arguments: a count or a min..max range', async (t) => {
  t.same(parseTargets(['web=5', 'api=2..10']), [{ service: 'web', replicas: 5 }, { service: 'api', replicas: 2, range: { min: 2, max: 10 } }])
  t.throws(() => parseTargets(['web=5..2']), /1 ≤ min ≤ max/)
  t.throws(() => parseTargets(['web=0..2']), /1 ≤ min ≤ max/)
  t.throws(() => parseTargets(['web=2..']), /min>\.\.<max>/)
})

t.test('status: one autoscale row per service', async (t) => {
  const now = 1_000_000
  const text = renderAutoscale([{
    service: 'web', min: 2, max: 10, replicas: 4, targets: { cpu: 70, requestsPerReplica: 200 },
    metrics: [{ name: 'cpu', current: 140, target: 70, replicas: 4, reporting: 2 }, { name: 'requestsPerReplica', current: null, target: 200, replicas: 2 }],
    decision: { at: now - 5000, action: 'up', desired: 4, reason: 'up: cpu 140% (target 70%) wants 4' },
    lastChange: { at: now - 5000, from: 2, to: 4, reason: 'x' },
  }, { service: 'api', min: 1, max: 3, replicas: 1, targets: { requestsPerReplica: 50 }, metrics: [], decision: null, lastChange: null }], now)
  t.match(text, /AUTOSCALE\s+REPLICAS\s+RANGE\s+CPU\/TARGET/)
  t.match(text, /\nweb\s+4\s+2\.\.10\s+140%\/70%\s+\?\/200\s+2→4 5s ago\s+up: cpu 140% \(target 70%\) wants 4 \(5s ago\)/)
  t.match(text, /\napi\s+1\s+1\.\.3\s+-\s+\?\/50\s+-\s+not evaluated yet/)
})
