// The standby's pure decision (issue 21): copy at the standby count while the
// other site is heard, takeover once when it is lost, back after it serves
// again for the hold, no new takeover within the cooldown, no copy over an
// operator's own spec, nothing removed while some site is lost.
import t from 'tap'
import { decideStandby, newStandbyMemory, standbyCopy, type SiteView, type StandbyMemory } from '../../src/registry/sites/standby-decide.js'
import type { ServiceSpec, SiteSummary } from '../../src/core/index.js'

const S = { graceMs: 10_000, holdMs: 5_000, cooldownMs: 60_000 }
const web: ServiceSpec = {
  name: 'web', image: 'x', replicas: 3, port: 80, network: 'mv0', resources: {}, env: {}, upstream: {}, placement: { spread: 'host' },
  standby: { site: 'b', replicas: 0 }, failover: { sites: ['b'], mode: 'backup' }, autoscale: { min: 2, max: 5 } as ServiceSpec['autoscale'],
}
const summary = (routable: number, hosts = { up: 2, suspect: 0, down: 0 }, spec = web): SiteSummary =>
  ({ v: 1, site: 'a', registry: 'r1', at: 0, hosts, standby: [{ spec, routable }] })
const view = (heardAgoMs: number | null, s?: SiteSummary, watchedMs = 60_000): SiteView => ({ site: 'a', heardAgoMs, watchedMs, summary: s })
const run = (v: SiteView, specs: Record<string, ServiceSpec>, mem: StandbyMemory, now: number) =>
  decideStandby('b', [v], new Map(Object.entries(specs)), mem, now, S)

t.test('the copy: standby count, marked with this site, no failover or autoscale', async (t) => {
  const c = standbyCopy(web, 'b', 0)
  t.same({ replicas: c.replicas, standby: c.standby, failover: c.failover, autoscale: c.autoscale }, { replicas: 0, standby: { site: 'b', replicas: 0 }, failover: undefined, autoscale: undefined })
})

t.test('table: one round each', async (t) => {
  const copy0 = standbyCopy(web, 'b', 0)
  const copy3 = standbyCopy(web, 'b', 3)
  const rows: Array<{ name: string, v: SiteView, specs: Record<string, ServiceSpec>, want: Array<[string, number | undefined, string]>, lost: boolean, takenOver: string[] }> = [
    { name: 'heard, no copy yet → copy at 0', v: view(500, summary(3)), specs: {}, want: [['write', 0, 'sync']], lost: false, takenOver: [] },
    { name: 'heard, copy in place → nothing', v: view(500, summary(3)), specs: { web: copy0 }, want: [], lost: false, takenOver: [] },
    { name: 'silent past grace → takeover to last known 3', v: view(10_001, summary(3)), specs: { web: copy0 }, want: [['write', 3, 'takeover']], lost: true, takenOver: ['web'] },
    { name: 'silent within grace → nothing', v: view(9_000, summary(3)), specs: { web: copy0 }, want: [], lost: false, takenOver: [] },
    { name: 'nothing heard since start, watched < grace → not lost', v: view(null, summary(3), 5_000), specs: { web: copy0 }, want: [], lost: false, takenOver: [] },
    { name: 'nothing heard since start, watched > grace → lost', v: view(null, summary(3), 10_001), specs: { web: copy0 }, want: [['write', 3, 'takeover']], lost: true, takenOver: ['web'] },
    { name: 'lost, already taken over → nothing more (no storm)', v: view(60_000, summary(3)), specs: { web: copy3 }, want: [], lost: true, takenOver: ['web'] },
    { name: 'operator\'s own spec of that name → untouched', v: view(60_000, summary(3)), specs: { web: { ...web, standby: undefined, replicas: 1 } }, want: [], lost: true, takenOver: [] },
    { name: 'standby count ≥ site\'s count → no takeover', v: view(60_000, summary(3, undefined, { ...web, replicas: 1, standby: { site: 'b', replicas: 1 } })), specs: {}, want: [['write', 1, 'sync']], lost: true, takenOver: [] },
    { name: 'spec for another standby site → ignored', v: view(500, summary(3, undefined, { ...web, standby: { site: 'c', replicas: 0 } })), specs: {}, want: [], lost: false, takenOver: [] },
    { name: 'heard, copy gone from summaries → removed', v: view(500, { ...summary(3), standby: [] }), specs: { web: copy0 }, want: [['remove', undefined, '']], lost: false, takenOver: [] },
    { name: 'lost, copy gone from summaries → kept', v: view(60_000, { ...summary(3), standby: [] }), specs: { web: copy3 }, want: [], lost: true, takenOver: [] },
  ]
  for (const r of rows) {
    const d = run(r.v, r.specs, newStandbyMemory(), 1_000_000)
    t.same(d.actions.map((a) => a.op === 'write' ? [a.op, a.spec.replicas, a.reason] : [a.op, undefined, '']), r.want, r.name)
    t.same(d.status.get('a'), { lost: r.lost, takenOver: r.takenOver }, `${r.name}: status`)
  }
})

t.test('most hosts not up for the grace → lost; a blip is not', async (t) => {
  const mem = newStandbyMemory()
  const sick = summary(0, { up: 1, suspect: 1, down: 1 })
  const copy0 = standbyCopy(web, 'b', 0)
  t.same(run(view(500, sick), { web: copy0 }, mem, 0).actions, [], 'hosts just went down: not yet')
  t.same(run(view(500, summary(3)), { web: copy0 }, mem, 5_000).actions, [], 'back up: the clock resets')
  t.same(run(view(500, sick), { web: copy0 }, mem, 6_000).actions, [])
  const d = run(view(500, sick), { web: copy0 }, mem, 16_001)
  t.same(d.actions.map((a) => a.op === 'write' && a.reason), ['takeover'], 'down for longer than the grace: taken over')
})

t.test('a sequence: lost, heard, hold, scale back, cooldown, lost again', async (t) => {
  const mem = newStandbyMemory()
  let specs: Record<string, ServiceSpec> = { web: standbyCopy(web, 'b', 0) }
  const step = (now: number, v: SiteView): string[] => {
    const d = run(v, specs, mem, now)
    for (const a of d.actions) if (a.op === 'write') specs = { ...specs, [a.service]: a.spec }
    return [...d.actions.map((a) => a.op === 'write' ? `${a.reason}:${a.spec.replicas}` : a.op), ...d.events.map((e) => `event:${e.what}`)]
  }
  t.same(step(0, view(500, summary(3))), [], 'heard: copy at 0 already')
  t.same(step(20_000, view(20_000, summary(3))), ['takeover:3', 'event:lost', 'event:takeover'], 'lost: one takeover')
  t.same(step(21_000, view(21_000, summary(3))), [], 'still lost: nothing more')
  t.same(step(30_000, view(100, summary(0))), ['event:heard'], 'heard, not serving yet: keep')
  t.same(step(31_000, view(100, summary(2))), [], 'serving: the hold starts')
  t.same(step(35_000, view(100, summary(0))), [], 'stopped serving within the hold: the hold restarts')
  t.same(step(36_000, view(100, summary(3))), [], 'serving again')
  t.same(step(40_999, view(100, summary(3))), [], 'hold not over')
  t.same(step(41_000, view(100, summary(3))), ['scale-back:0', 'event:scale-back'], 'held 5 s: back to 0')
  t.same(step(60_000, view(15_000, summary(3))), ['event:lost', 'event:cooldown'], 'lost again within the cooldown: no takeover (partition bound)')
  t.same(step(70_000, view(25_000, summary(3))), [], 'cooldown reported once')
  t.same(step(101_001, view(60_000, summary(3))), ['takeover:3', 'event:takeover'], 'after the cooldown: takeover')
})

t.test('two sites export the same name: the first listed wins, the other is reported', async (t) => {
  const mem = newStandbyMemory()
  const c = { ...view(500, summary(3)), site: 'c' }
  const d = decideStandby('b', [view(500, summary(3)), c], new Map(), mem, 0, S)
  t.same(d.actions.map((a) => a.op === 'write' ? a.site : a.op), ['a'])
  t.same(d.events.map((e) => [e.site, e.what]), [['c', 'conflict']])
})
