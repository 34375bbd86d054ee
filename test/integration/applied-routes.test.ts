// Issue 20: a renderer routing more than APPLIED_INLINE_MAX containers
// announces its generation and count without the id list (at 50,000 ids the
// list exceeded NATS's 1 MB payload and the announcement was skipped), and a
// draining agent asks it instead (`driftgate.applied.<id>.routes`). The
// drain-before-stop predicates (allLack, allHave) work the same either way.
// Real nats-server; the renderer's side is its RoutesResponder.
import t from 'tap'
import { connect } from 'nats'
import { startNats, waitFor } from '../harness/index.js'
import { encodeJson, decodeJson, subjects } from '../../src/bus/index.js'
import { silentLogger, type AppliedMessage } from '../../src/core/index.js'
import { AppliedTracker, parseApplied } from '../../src/agent/reconciler/index.js'
import { APPLIED_INLINE_MAX, RoutesResponder, parseRoutesQuery } from '../../src/renderer/routes-responder.js'
import type { AppliedState } from '../../src/renderer/renderer.js'

const nats = await startNats()
t.teardown(() => nats.stop())
const nc = await connect({ servers: nats.url })
t.teardown(() => nc.close())

const cid = (n: number): string => n.toString(16).padStart(64, '0')
const ids = Array.from({ length: 20_000 }, (_, i) => cid(i + 1))
let current: AppliedState | null = null
let refused = 0
const responder = new RoutesResponder({
  nc, subject: subjects().routes('edge1'), renderer: 'edge1', current: () => current, log: silentLogger(), onRefused: () => { refused++ },
})
responder.start()
t.teardown(() => responder.close())

const tracker = new AppliedTracker({ nc, subjects: subjects(), log: silentLogger(), silentMs: 15_000 })
tracker.start()
t.teardown(() => tracker.close())

/** What the renderer does after an apply: keep the state, announce without the list (count > inline max). */
function apply (generation: number, routed: string[]): void {
  current = { v: 1, renderer: 'edge1', generation, endpointsRevision: generation, containers: routed, count: routed.length, appliedAt: Date.now() }
  const msg: AppliedMessage = { v: 1, renderer: 'edge1', generation, endpointsRevision: generation, count: routed.length, appliedAt: Date.now() }
  nc.publish('driftgate.applied.edge1', encodeJson(msg))
}

t.test('an announcement without the id list is valid and small', async (t) => {
  t.ok(ids.length > APPLIED_INLINE_MAX)
  const data = encodeJson({ v: 1, renderer: 'edge1', generation: 1, endpointsRevision: 1, count: ids.length, appliedAt: 1 })
  t.ok(data.length < 200, `${data.length} bytes for ${ids.length} containers`)
  t.match(parseApplied('driftgate.applied.edge1', data, 'driftgate'), { ok: true, msg: { count: 20_000 } })
})

t.test('drain waits while the renderer routes the container, and ends once it does not', async (t) => {
  apply(1, ids)
  await waitFor(() => tracker.renderers.get('edge1')?.generation === 1, { what: 'announcement' })
  t.equal(tracker.renderers.get('edge1')?.containers, null, 'no list held')
  const target = [cid(5), cid(19_999)]
  // the first check asks; the answer wakes the waiter; still routed → keeps waiting
  t.notOk(await tracker.until(() => tracker.allLack(target), 1500), 'routed: the drain waits')
  t.ok(await tracker.until(() => tracker.allHave(cid(7)), 3000), 'allHave answered by a query')
  setTimeout(() => { apply(2, ids.filter((id) => !target.includes(id))) }, 300)
  t.ok(await tracker.until(() => tracker.allLack(target), 5000), 'gone from the next generation: the drain ends')
  t.notOk(tracker.allHave(cid(5)))
})

t.test('an answer of an older generation is not trusted for a newer announcement', async (t) => {
  apply(3, ids) // cid(5) routed again at generation 3
  await waitFor(() => tracker.renderers.get('edge1')?.generation === 3, { what: 'announcement 3' })
  t.notOk(tracker.allLack([cid(5)]), 'generation 2\'s answer is stale: asks again')
  t.notOk(await tracker.until(() => tracker.allLack([cid(5)]), 1000), 'and the new answer says routed')
})

t.test('bad queries are refused with a reason and counted', async (t) => {
  t.match(parseRoutesQuery(encodeJson({ v: 1, ids: ['nope'] })), { ok: false })
  t.match(parseRoutesQuery(encodeJson({ v: 1, ids: ids.slice(0, 1001) })), { ok: false, reason: /more than 1000/ })
  t.match(parseRoutesQuery(new TextEncoder().encode('{')), { ok: false })
  t.match(parseRoutesQuery(encodeJson({ v: 1, ids: [cid(1)] })), { ok: true, ids: [cid(1)] })
  const before = refused
  const m = await nc.request(subjects().routes('edge1'), encodeJson({ ids: 'x' }), { timeout: 2000 })
  t.match(decodeJson(m.data), { ok: true, value: { error: /expected/ } })
  t.equal(refused, before + 1)
})
