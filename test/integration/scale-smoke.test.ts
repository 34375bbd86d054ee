// The small form of bench/scale in CI: a 3-node JetStream cluster (R3), 3
// registry instances and 2 lua-mode renderers with their own nginx (child
// processes), 10 simulated agents with 500 endpoints, then 100 events/s with
// hosts falling silent and coming back. Whatever the latency on a loaded CI
// machine, the end state must be exact: the KV table and both nginx shared
// dicts equal the generator's truth, every event is held by a KV write, and
// each real renderer answers drain queries from what it applied.
import t from 'tap'
import { runScale } from '../../bench/scale/run.js'
import { decodeJson, encodeJson, subjects } from '../../src/bus/index.js'

t.test('bench/scale small form: KV table and every nginx dict equal the truth', async (t) => {
  const r = await runScale({
    hosts: 10, endpoints: 500, services: 50, rate: 100, durationS: 8, quietS: 2, heartbeatMs: 2000, snapshotMs: 5000,
    steps: [500], silentFraction: 0.2, fault: 'none', conns: 2, registries: 3, renderers: 2, settleTimeoutS: 60,
    log: (l) => { t.comment(l) },
    // Each real renderer answers drain queries (driftgate.applied.<id>.routes) from what it applied.
    onSettled: async ({ nc, renderers, truth }) => {
      const live = [...truth.values()].slice(0, 5).map((e) => e.containerId)
      const gone = 'f'.repeat(64)
      for (const id of renderers) {
        const m = await nc.request(subjects().routes(id), encodeJson({ v: 1, ids: [...live, gone] }), { timeout: 5000 })
        const d = decodeJson(m.data)
        t.same(d.ok ? (d.value as { routed: string[] }).routed : d, live, `${id} routes the live containers, not an unknown one`)
      }
    },
  })
  t.ok(r.events > 400, `events published (${r.events})`)
  t.same(r.tableDiff, [], 'KV endpoint table == truth')
  for (const d of r.dictDiffs) t.same(d.diff, [], `nginx dict of ${d.renderer} == truth`)
  t.equal(r.unwritten, 0, 'every published event is held by a KV write (nothing lost)')
  // Latency is reported, not asserted: CI machines differ; the end state above is what must hold.
  t.comment(`settled ${r.settleS.toFixed(1)} s after the last change; event → dict timed for ${r.latency.all.length} of ${2 * r.events} (event, dict) pairs; ${r.coverage}`)
})
