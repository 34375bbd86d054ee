// Issue 15, hole 3: the renderer of an `applied` announcement is the
// subject's (`driftgate.applied.<id>`); a payload naming another renderer is
// refused and counted, and renderers silent for the forget time are dropped
// from the tracker altogether, so a dead one blocks no drain. Real
// nats-server, a hand-driven clock.
import t from 'tap'
import { connect } from 'nats'
import { Registry, type Counter } from 'prom-client'
import { startNats, sleep, waitFor } from '../harness/index.js'
import { encodeJson, subjects } from '../../src/bus/index.js'
import { silentLogger, type AppliedMessage } from '../../src/core/index.js'
import { AppliedTracker } from '../../src/agent/reconciler/index.js'

const nats = await startNats()
t.teardown(() => nats.stop())
const nc = await connect({ servers: nats.url })
t.teardown(() => nc.close())

const cid = (n: number): string => n.toString(16).padStart(64, '0')
const applied = (renderer: string, containers: string[], generation = 1): Uint8Array => encodeJson({
  v: 1, renderer, generation, endpointsRevision: 1, containers, appliedAt: Date.now(),
} satisfies AppliedMessage)

let clock = 1_000_000
const metrics = new Registry()
const tracker = new AppliedTracker({
  nc, subjects: subjects(), log: silentLogger(), silentMs: 15_000, forgetMs: 60_000, metrics, now: () => clock,
})
tracker.start()
t.teardown(() => tracker.close())
const refused = async (reason: string): Promise<number> => {
  const c = metrics.getSingleMetric('driftgate_agent_applied_refused_total') as Counter | undefined
  return (await c?.get())?.values.find((v) => v.labels.reason === reason)?.value ?? 0
}

t.test('an announcement naming another renderer than its subject is refused and counted', async (t) => {
  nc.publish('driftgate.applied.edge1', applied('edge1', [cid(1)]))
  nc.publish('driftgate.applied.edge1', applied('edge2', [cid(1), cid(2)], 7)) // edge1 speaking for edge2
  nc.publish('driftgate.applied.edge1.x', applied('edge1', [cid(3)], 9)) // not a renderer subject
  await nc.flush()
  await waitFor(async () => await refused('renderer_mismatch') === 1, { what: 'the forged announcement counted', timeoutMs: 5000 })
  await sleep(100)
  t.same([...tracker.renderers.keys()], ['edge1'], 'only edge1 is tracked')
  t.same([...tracker.renderers.get('edge1')?.containers ?? []], [cid(1)], 'edge1 unchanged by the other messages')
  t.ok(tracker.allLack([cid(2)]), 'nothing waits on the invented edge2')
})

t.test('a silent renderer blocks no drain and is forgotten', async (t) => {
  t.notOk(tracker.allLack([cid(1)]), 'edge1 routes container 1: a drain waits')
  clock += 15_001
  t.ok(tracker.allLack([cid(1)]), 'silent past 15 s: not live, no drain waits on it')
  t.ok(tracker.renderers.has('edge1'), 'still remembered (it may come back with a lower generation)')
  clock += 45_000
  t.ok(tracker.allLack([cid(1)]))
  t.notOk(tracker.renderers.has('edge1'), 'silent past 60 s: forgotten')
  nc.publish('driftgate.applied.edge1', applied('edge1', [cid(4)], 1))
  await waitFor(() => tracker.renderers.has('edge1'), { what: 'edge1 back', timeoutMs: 5000 })
  t.notOk(tracker.allLack([cid(4)]), 'heard again: live again')
})
