// The spec's autoscale block (src/core/spec-autoscale.ts): defaults, the
// cross-field rules with their messages, and that it does not restart replicas.
import t from 'tap'
import { ValidationError, checkServiceSpec, specHash } from '../../src/core/index.js'

const base = { name: 'web', image: 'web:1', replicas: 2, port: 80, network: 'mv0', resources: { cpu: 0.5 } }

t.test('defaults: scaleUpStabilization 0s, scaleDownStabilization 5m', async (t) => {
  const s = checkServiceSpec(structuredClone({ ...base, autoscale: { min: 2, max: 20, cpu: 70, requestsPerReplica: 200 } }))
  t.same(s.autoscale, { min: 2, max: 20, cpu: 70, requestsPerReplica: 200, scaleUpStabilization: '0s', scaleDownStabilization: '5m' })
})

const refused: Array<{ desc: string, autoscale: unknown, resources?: unknown, message: RegExp }> = [
  { desc: 'min above max', autoscale: { min: 5, max: 2, cpu: 70 }, message: /\/autoscale: min \(5\) must not exceed max \(2\)/ },
  { desc: 'no target', autoscale: { min: 1, max: 2 }, message: /\/autoscale: needs at least one target: cpu .* or requestsPerReplica/ },
  { desc: 'cpu target without a CPU limit', autoscale: { min: 1, max: 2, cpu: 70 }, resources: {}, message: /set resources\.cpu too/ },
  { desc: 'min 0 (no scale to zero)', autoscale: { min: 0, max: 2, cpu: 70 }, message: /\/autoscale\/min: must be >= 1/ },
  { desc: 'max over the replicas limit', autoscale: { min: 1, max: 1001, cpu: 70 }, message: /\/autoscale\/max: must be <= 1000/ },
  { desc: 'cpu over 100 %', autoscale: { min: 1, max: 2, cpu: 150 }, message: /\/autoscale\/cpu: must be <= 100/ },
  { desc: 'requestsPerReplica 0', autoscale: { min: 1, max: 2, requestsPerReplica: 0 }, message: /\/autoscale\/requestsPerReplica: must be > 0/ },
  { desc: 'a window that is not a duration', autoscale: { min: 1, max: 2, cpu: 50, scaleDownStabilization: '5 minutes' }, message: /\/autoscale\/scaleDownStabilization/ },
  { desc: 'unknown field', autoscale: { min: 1, max: 2, cpu: 50, memory: 80 }, message: /unknown field "memory"/ },
]
for (const c of refused) {
  t.test(`refused: ${c.desc}`, async (t) => {
    const err = t.throws(() => checkServiceSpec(structuredClone({ ...base, ...(c.resources !== undefined ? { resources: c.resources } : {}), autoscale: c.autoscale }))) as ValidationError
    t.ok(err instanceof ValidationError)
    t.match(err.message, c.message)
  })
}

t.test('a requests-only target needs no CPU limit', async (t) => {
  t.ok(checkServiceSpec(structuredClone({ ...base, resources: {}, autoscale: { min: 1, max: 3, requestsPerReplica: 50 } })))
})

t.test('specHash leaves autoscale out: changing the range restarts nothing', async (t) => {
  const a = checkServiceSpec(structuredClone(base))
  const b = checkServiceSpec(structuredClone({ ...base, replicas: 7, autoscale: { min: 2, max: 9, cpu: 60 } }))
  t.equal(specHash(a), specHash(b))
})
