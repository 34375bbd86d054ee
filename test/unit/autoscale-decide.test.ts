// The autoscaler's decision (src/placement/autoscale/decide.ts) as a table:
// the HPA rule, tolerance, windows, clamping, missing metrics, unschedulable.
import t from 'tap'
import { compact, decideReplicas, type AutoscaleInput, type Recommendation } from '../../src/placement/autoscale/decide.js'

const NOW = 1_000_000
const policy = { min: 2, max: 20, cpu: 70, upMs: 0, downMs: 300_000 }
const base: AutoscaleInput = { now: NOW, current: 2, policy, cpu: [70, 70], unschedulable: 0, recommendations: [] }
const ago = (s: number, replicas: number): Recommendation => ({ at: NOW - s * 1000, replicas })

interface Case { desc: string, input: Partial<AutoscaleInput>, expected: { desired: number, recommended?: number, reason?: RegExp } }

const cases: Case[] = [
  { desc: 'on target: hold', input: {}, expected: { desired: 2, recommended: 2, reason: /^hold: cpu 70% \(target 70%\): within tolerance/ } },
  { desc: 'inside the 10% band: hold', input: { cpu: [76, 76] }, expected: { desired: 2, reason: /within tolerance/ } },
  { desc: 'just outside the band: ceil(2 × 78/70) = 3', input: { cpu: [78, 78] }, expected: { desired: 3, recommended: 3, reason: /^up: cpu 78% \(target 70%\) wants 3/ } },
  { desc: 'double the target: 4', input: { cpu: [140, 140] }, expected: { desired: 4 } },
  { desc: 'far over: capped at max', input: { current: 10, cpu: Array(10).fill(1000) }, expected: { desired: 20, recommended: 143, reason: /wants 143, max 20$/ } },
  { desc: 'low load, no history: down at once to ceil(4 × 10/70) = 1, clamped to min 2', input: { current: 4, cpu: [10, 10, 10, 10] }, expected: { desired: 2, recommended: 1, reason: /^down: .* wants 1, min 2$/ } },
  { desc: 'low load, a higher recommendation within the down window: held', input: { current: 4, cpu: [10, 10, 10, 10], recommendations: [ago(60, 4)] }, expected: { desired: 4, reason: /^hold: .* wants 1; the scale-down window 5m keeps 4/ } },
  { desc: 'low load, the window allows 3 of 4', input: { current: 4, cpu: [10, 10, 10, 10], recommendations: [ago(200, 3), ago(400, 8)] }, expected: { desired: 3, reason: /highest over the scale-down window 5m: 3/ } },
  { desc: 'recommendations older than the window do not count', input: { current: 4, cpu: [10, 10, 10, 10], recommendations: [ago(301, 9)] }, expected: { desired: 2 } },
  { desc: 'scale-up window: the lowest recommendation over it', input: { policy: { ...policy, upMs: 60_000 }, cpu: [140, 140], recommendations: [ago(30, 3)] }, expected: { desired: 3, reason: /lowest over the scale-up window 1m: 3/ } },
  { desc: 'scale-up window: a low recommendation holds', input: { policy: { ...policy, upMs: 60_000 }, cpu: [140, 140], recommendations: [ago(30, 2)] }, expected: { desired: 2, reason: /scale-up window 1m keeps 2/ } },
  { desc: 'unschedulable replicas: no change whatever the load', input: { cpu: [300, 300], unschedulable: 1 }, expected: { desired: 2, recommended: 9, reason: /^hold: 1 replica unschedulable/ } },
  { desc: 'unschedulable but above max: back to max', input: { current: 25, cpu: Array(25).fill(10), unschedulable: 3 }, expected: { desired: 20, reason: /above max 20; hold: 3 replicas unschedulable/ } },
  { desc: 'no metric at all: hold', input: { cpu: [] }, expected: { desired: 2, reason: /^hold: no metrics yet/ } },
  { desc: 'no metric at all and below min: min', input: { current: 1, cpu: [] }, expected: { desired: 2, reason: /no metrics yet; below min 2/ } },
  { desc: 'missing replicas count as 0 % on scale-up: (140+140+0+0)/4 = 70 → hold', input: { current: 4, cpu: [140, 140] }, expected: { desired: 4, recommended: 4 } },
  { desc: 'missing replicas on scale-up, more load: (200+200)/4 = 100 → ceil(4 × 100/70) = 6', input: { current: 4, cpu: [200, 200] }, expected: { desired: 6 } },
  { desc: 'missing replicas count as on target on scale-down: (0+0+70+70)/4 = 35 → 2', input: { current: 4, cpu: [0, 0] }, expected: { desired: 2, recommended: 2 } },
  { desc: 'missing replicas within the band of the reporting ones: hold', input: { current: 4, cpu: [72, 72] }, expected: { desired: 4, recommended: 4 } },
  { desc: 'requests per replica: 900 req/s over 2 at 200 → ceil(2 × 450/200) = 5', input: { policy: { ...policy, cpu: undefined, requestsPerReplica: 200 }, requestsPerSec: 900 }, expected: { desired: 5, reason: /^up: requests 450 req\/s per replica \(target 200 req\/s per replica\) wants 5/ } },
  { desc: 'highest over metrics: cpu 3, requests 5 → 5', input: { policy: { ...policy, requestsPerReplica: 200 }, cpu: [78, 78], requestsPerSec: 900 }, expected: { desired: 5, recommended: 5 } },
  { desc: 'missing requests metric never scales down: cpu wants 1, requests unknown → 2 (current)', input: { current: 3, policy: { ...policy, requestsPerReplica: 200 }, cpu: [5, 5, 5] }, expected: { desired: 3, recommended: 3 } },
  { desc: 'a missing metric does not stop another scaling up', input: { policy: { ...policy, requestsPerReplica: 200 }, cpu: [140, 140] }, expected: { desired: 4 } },
  { desc: 'zero replicas: start at min', input: { current: 0, cpu: [] }, expected: { desired: 2, reason: /no replicas: start at min 2/ } },
  { desc: 'below min with load on target: min', input: { current: 1, cpu: [70] }, expected: { desired: 2 } },
]

for (const c of cases) {
  t.test(c.desc, async (t) => {
    const d = decideReplicas({ ...base, ...c.input })
    t.equal(d.desired, c.expected.desired, 'desired')
    if (c.expected.recommended !== undefined) t.equal(d.recommended, c.expected.recommended, 'recommended')
    if (c.expected.reason !== undefined) t.match(d.reason, c.expected.reason, 'reason')
    t.equal(d.action, d.desired > (c.input.current ?? base.current) ? 'up' : d.desired < (c.input.current ?? base.current) ? 'down' : 'hold')
  })
}

t.test('a decision keeps what the next one needs: the scale-down window still holds it', async (t) => {
  let recs: Recommendation[] = []
  let current = 2
  const step = (at: number, cpu: number): number => {
    const d = decideReplicas({ ...base, now: at, current, cpu: Array(current).fill(cpu), recommendations: recs })
    recs = d.recommendations
    current = d.desired
    return current
  }
  t.equal(step(NOW, 140), 4, 'load: up at once (0s up window)')
  t.equal(step(NOW + 15_000, 10), 4, 'load gone: held by the 5m window')
  t.equal(step(NOW + 299_000, 10), 4, 'still inside the window')
  t.equal(step(NOW + 301_000, 10), 2, 'window over: back to min')
})

t.test('compact: only entries a window can still need, none older than keepMs', async (t) => {
  const recs = [ago(500, 9), ago(250, 5), ago(200, 3), ago(100, 5), ago(50, 4), ago(0, 4)]
  t.same(compact(recs, NOW, 300_000).map((r) => r.replicas), [3, 5, 4], 'the 9 is too old, the first 5 is dominated by the later 5, the older 4 by the newer 4')
  t.same(compact([ago(10, 2), ago(5, 2), ago(0, 2)], NOW, 300_000).length, 1, 'a constant series keeps one')
  t.same(compact([ago(0, 2)], NOW, 0), [], 'no window: nothing kept')
})
