import t from 'tap'
import { fakeView, ep, putEp, serviceRec } from './lookup-fixtures.js'

t.test('groups live endpoints by service, skips tombstones, filters healthy running', async (t) => {
  const { view, t: tb } = fakeView()
  putEp(tb, ep('web', '10.240.0.1'))
  putEp(tb, ep('web', '10.240.0.2', { health: 'unhealthy' }))
  putEp(tb, ep('web', '10.240.0.3', { state: 'draining' }))
  putEp(tb, ep('web', '10.240.0.4', { health: 'starting' }))
  putEp(tb, ep('web', '10.240.0.5', { removed: true }))
  putEp(tb, ep('ghost', '10.240.0.9', { removed: true }))
  const web = view.get('web')!
  t.equal(web.endpoints.size, 4)
  t.same(view.healthy(web).map((e) => e.ip).sort(), ['10.240.0.1', '10.240.0.4'])
  t.equal(view.get('ghost'), undefined, 'tombstone-only service does not exist')
  t.same(view.names(), ['web'])
})

t.test('index = revision of the last visible change; seq-only rewrites do not move it', async (t) => {
  const { view, t: tb } = fakeView()
  const a = ep('web', '10.240.0.1')
  const r1 = putEp(tb, a)
  t.equal(view.index('web'), r1)
  putEp(tb, ep('api', '10.240.0.7'))
  t.equal(view.index('web'), r1, 'other service does not move it')
  putEp(tb, { ...a, seq: a.seq + 1, updatedAt: a.updatedAt + 5 })
  t.equal(view.index('web'), r1, 'invisible rewrite')
  const r4 = putEp(tb, { ...a, health: 'unhealthy' })
  t.equal(view.index('web'), r4)
  const r5 = putEp(tb, { ...a, removed: true })
  t.equal(view.index('web'), r5)
  t.equal(view.get('web'), undefined)
})

t.test('service with a spec but no endpoints exists; spec change keeps the index', async (t) => {
  const { view, t: tb } = fakeView()
  tb.services.put('db', serviceRec('db'))
  t.ok(view.get('db'))
  t.same(view.healthy(view.get('db')!), [])
  t.same(view.names(), ['db'])
})

t.test('blocking wait resolves on change past the index, times out otherwise, cancel releases', async (t) => {
  const { view, t: tb } = fakeView()
  const r1 = putEp(tb, ep('web', '10.240.0.1'))
  const early = view.wait('web', r1 - 1, 1000)
  t.equal(await early.promise, true, 'already past')
  const parked = view.wait('web', r1, 5000)
  t.equal(view.waiting(), 1)
  setTimeout(() => putEp(tb, ep('web', '10.240.0.2')), 10)
  const t0 = Date.now()
  t.equal(await parked.promise, true)
  t.ok(Date.now() - t0 < 1000)
  t.equal(view.waiting(), 0)
  const timeout = view.wait('web', view.index('web'), 30)
  t.equal(await timeout.promise, false)
  const c = view.wait('web', view.index('web'), 5000)
  c.cancel()
  t.equal(await c.promise, false)
  t.equal(view.waiting(), 0)
})

t.test('waiting for a service that does not exist yet wakes when it appears', async (t) => {
  const { view, t: tb } = fakeView()
  const w = view.wait('later', 0, 5000)
  putEp(tb, ep('later', '10.240.0.3'))
  t.equal(await w.promise, true)
  t.ok(view.get('later'))
})

t.test('10k parked waiters cost one timer each and all wake on one change', async (t) => {
  const { view, t: tb } = fakeView()
  const r = putEp(tb, ep('web', '10.240.0.1'))
  const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length
  const before = timers()
  const ws = Array.from({ length: 10_000 }, () => view.wait('web', r, 60_000))
  t.equal(view.waiting(), 10_000)
  t.equal(timers() - before, 10_000, 'one timer per waiter, nothing else scheduled')
  // Parked means nothing runs: no waiter settles and no timer is added while idle.
  // (Process CPU is not asserted: CI's GC threads collecting the 10k closures made it noise.)
  let settled = 0
  for (const w of ws) void w.promise.then(() => { settled++ })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(settled, 0, 'no waiter settled while parked')
  t.equal(timers() - before, 10_000, 'no timer added while parked')
  putEp(tb, ep('web', '10.240.0.2'))
  const results = await Promise.all(ws.map((w) => w.promise))
  t.ok(results.every(Boolean))
  t.equal(view.waiting(), 0)
  t.equal(timers() - before, 0, 'every timer cleared on wake')
})

t.test('rebuild picks up entries loaded before the view existed; close releases waiters', async (t) => {
  const { view, t: tb } = fakeView()
  view.close()
  const rec = ep('web', '10.240.0.1')
  tb.endpoints.entries.set(`web.${rec.containerId}`, rec)
  tb.endpoints.revision = 42
  const { LookupView } = await import('../../src/registry/lookup/view.js')
  const v2 = new LookupView(tb as never)
  v2.rebuild()
  t.ok(v2.index('web') >= 42)
  t.equal(v2.healthy(v2.get('web')!).length, 1)
  const w = v2.wait('web', v2.index('web'), 60_000)
  v2.close()
  t.equal(await w.promise, false)
})
