// The autoscaler's decision cost: one round over 1,000 autoscaled services
// (10 replicas each, cpu + requests targets, a 5 m scale-down window filled
// by earlier rounds at a 15 s interval), the pure function only: what the
// placement leader adds every autoscaleInterval. Median of several rounds,
// wall and CPU time.
// Run: npm run bench -- bench/autoscale.ts
import { decideReplicas, type Recommendation } from '../src/placement/autoscale/decide.js'

const SERVICES = Number(process.env.SERVICES ?? 1000)
const REPLICAS = Number(process.env.REPLICAS ?? 10)
const RUNS = Number(process.env.RUNS ?? 11)
const policy = { min: 2, max: 50, cpu: 70, requestsPerReplica: 200, upMs: 0, downMs: 300_000 }

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
// Load that swings: recommendations vary, so the windows keep several entries.
const cpuOf = (svc: number, round: number): number[] => Array.from({ length: REPLICAS }, (_, r) => 20 + ((svc * 7 + round * 13 + r) % 100))

const recs = new Map<number, Recommendation[]>()
let now = 1_000_000
function round (k: number): void {
  for (let s = 0; s < SERVICES; s++) {
    const d = decideReplicas({ now, current: REPLICAS, policy, cpu: cpuOf(s, k), requestsPerSec: 1000 + (s % 3000), unschedulable: 0, recommendations: recs.get(s) ?? [] })
    recs.set(s, d.recommendations)
  }
  now += 15_000
}
for (let k = 0; k < 20; k++) round(k) // fill the 5 m window (20 rounds of 15 s)
const wall: number[] = []
const cpu: number[] = []
for (let k = 0; k < RUNS; k++) {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  round(20 + k)
  wall.push(Number(process.hrtime.bigint() - t0) / 1e6)
  const c = process.cpuUsage(c0)
  cpu.push((c.user + c.system) / 1000)
}
const kept = [...recs.values()].reduce((a, r) => a + r.length, 0) / SERVICES
console.log(`autoscale decision: ${SERVICES} services x ${REPLICAS} replicas, cpu + requests targets, 5m window (${kept.toFixed(1)} recommendations kept per service), median of ${RUNS} rounds`)
console.log(`  one round:  ${median(wall).toFixed(2).padStart(7)} ms wall, ${median(cpu).toFixed(2).padStart(6)} ms cpu  (${(median(cpu) * 1000 / SERVICES).toFixed(1)} µs cpu per service)`)
