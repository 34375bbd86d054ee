// CPU percent of a container's limit from two one-shot Docker stats samples.
import t from 'tap'
import { cpuPercent, sampleOf } from '../../src/agent/stats/index.js'

const stats = (total: number, system: number, cpus = 4): unknown => ({ cpu_stats: { cpu_usage: { total_usage: total }, system_cpu_usage: system, online_cpus: cpus } })

t.test('sampleOf reads the counters, refuses a sample without them', async (t) => {
  t.same(sampleOf(stats(5, 10) as never), { total: 5, system: 10, cpus: 4 })
  t.equal(sampleOf({}), null)
  t.equal(sampleOf({ cpu_stats: { cpu_usage: { total_usage: 1 } } }), null, 'no system counter (first one-shot on some daemons)')
})

const cases: Array<{ desc: string, prev: [number, number], cur: [number, number], limit: number, expected: number | null }> = [
  // 4 CPUs, 1 s of wall: system grows 4e9 ns. 0.5 CPU used = 5e8 ns of container time.
  { desc: 'half a CPU against a 1-CPU limit: 50 %', prev: [0, 0], cur: [5e8, 4e9], limit: 1, expected: 50 },
  { desc: 'half a CPU against a 0.25 limit: 200 % (the limit is enforced per period)', prev: [0, 0], cur: [5e8, 4e9], limit: 0.25, expected: 200 },
  { desc: '0.1 CPU against a 0.1 limit: 100 %', prev: [1e9, 1e10], cur: [1e9 + 1e8, 1e10 + 4e9], limit: 0.1, expected: 100 },
  { desc: 'no limit: against one CPU', prev: [0, 0], cur: [2e9, 4e9], limit: 0, expected: 200 },
  { desc: 'idle: 0 %', prev: [7, 0], cur: [7, 4e9], limit: 1, expected: 0 },
  { desc: 'counter went back (restart): not comparable', prev: [9e9, 0], cur: [1e9, 4e9], limit: 1, expected: null },
  { desc: 'no time passed: not comparable', prev: [0, 4e9], cur: [1e8, 4e9], limit: 1, expected: null },
]
for (const c of cases) {
  t.test(c.desc, async (t) => {
    const prev = sampleOf(stats(...c.prev) as never) ?? { total: c.prev[0], system: c.prev[1], cpus: 4 }
    const cur = sampleOf(stats(...c.cur) as never) ?? { total: c.cur[0], system: c.cur[1], cpus: 4 }
    t.equal(cpuPercent(prev, cur, c.limit), c.expected)
  })
}
