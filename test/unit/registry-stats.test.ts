// The service load rate computer (pure) as tables: resets, a silent
// renderer, two renderers; plus the renderer's report builder and the
// registry's parsing of a report (subject vs payload renderer).
import t from 'tap'
import { LoadRates, increase, parseStatsMessage } from '../../src/registry/stats/index.js'
import { buildStatsReport } from '../../src/renderer/stats-report.js'
import { encodeJson } from '../../src/bus/index.js'
import type { RendererStatsMessage } from '../../src/core/index.js'

const T0 = 1_700_000_000_000
type Counts = Record<string, [number, number]>
/** A report of renderer `r` read at T0 + `s` seconds (heard at the same moment unless told). */
interface Step { r: string, s: number, boot?: string, c: Counts, heard?: number }
const msg = (x: Step): RendererStatsMessage => ({
  v: 1, renderer: x.r, boot: x.boot ?? 'boot1', at: T0 + x.s * 1000,
  services: Object.fromEntries(Object.entries(x.c).map(([n, [requests, errors]]) => [n, { requests, errors }])),
})

interface Case {
  desc: string
  steps: Step[]
  /** Seconds after T0 when asked. */
  now: number
  windowS?: number
  want: Record<string, { rps: number, eps: number, renderers: number, requests?: number } | undefined>
}

const cases: Case[] = [
  { desc: 'one report: no rate yet', steps: [{ r: 'e1', s: 0, c: { web: [100, 0] } }], now: 0, want: { web: undefined } },
  {
    desc: 'steady: delta over time',
    steps: [{ r: 'e1', s: 0, c: { web: [100, 1] } }, { r: 'e1', s: 2, c: { web: [140, 3] } }, { r: 'e1', s: 4, c: { web: [180, 5] } }],
    now: 4, want: { web: { rps: 20, eps: 1, renderers: 1, requests: 80 } },
  },
  {
    desc: 'window: only the last 4 s of samples count',
    steps: [{ r: 'e1', s: 0, c: { web: [0, 0] } }, { r: 'e1', s: 2, c: { web: [1000, 0] } }, { r: 'e1', s: 4, c: { web: [1010, 0] } }, { r: 'e1', s: 6, c: { web: [1030, 0] } }],
    now: 6, windowS: 4, want: { web: { rps: 7.5, eps: 0, renderers: 1, requests: 30 } },
  },
  {
    desc: 'nginx restarted (new boot id): the new counter is the increase',
    steps: [{ r: 'e1', s: 0, c: { web: [500, 9] } }, { r: 'e1', s: 2, c: { web: [540, 9] } }, { r: 'e1', s: 4, boot: 'boot2', c: { web: [20, 2] } }],
    now: 4, want: { web: { rps: 15, eps: 0.5, renderers: 1, requests: 60 } },
  },
  {
    desc: 'a counter going down with the same boot is a reset too',
    steps: [{ r: 'e1', s: 0, c: { web: [500, 9] } }, { r: 'e1', s: 2, c: { web: [10, 0] } }],
    now: 2, want: { web: { rps: 5, eps: 0, renderers: 1 } },
  },
  {
    desc: 'a restart where the service has no counter yet: that step adds nothing',
    steps: [{ r: 'e1', s: 0, c: { web: [500, 0] } }, { r: 'e1', s: 2, boot: 'b2', c: {} }, { r: 'e1', s: 4, boot: 'b2', c: { web: [8, 0] } }],
    now: 4, want: { web: { rps: 2, eps: 0, renderers: 1 } },
  },
  {
    desc: 'a service first counted after the first report: counted from 0',
    steps: [{ r: 'e1', s: 0, c: { web: [5, 0] } }, { r: 'e1', s: 2, c: { web: [5, 0], api: [6, 2] } }],
    now: 2, want: { web: { rps: 0, eps: 0, renderers: 1 }, api: { rps: 3, eps: 1, renderers: 1 } },
  },
  {
    desc: 'two renderers: summed',
    steps: [
      { r: 'e1', s: 0, c: { web: [0, 0] } }, { r: 'e2', s: 0.5, c: { web: [1000, 0], api: [0, 0] } },
      { r: 'e1', s: 2, c: { web: [20, 2] } }, { r: 'e2', s: 2.5, c: { web: [1060, 0], api: [4, 0] } },
    ],
    now: 2.5, want: { web: { rps: 40, eps: 1, renderers: 2, requests: 80 }, api: { rps: 2, eps: 0, renderers: 1 } },
  },
  {
    desc: 'a renderer silent for more than 3 of its intervals drops out',
    steps: [
      { r: 'e1', s: 0, c: { web: [0, 0] } }, { r: 'e2', s: 0, c: { web: [0, 0] } },
      { r: 'e1', s: 2, c: { web: [20, 0] } }, { r: 'e2', s: 2, c: { web: [200, 0] } },
      { r: 'e1', s: 8, c: { web: [80, 0] } },
    ],
    now: 8.5, want: { web: { rps: 10, eps: 0, renderers: 1 } },
  },
  {
    desc: 'every renderer silent: no data',
    steps: [{ r: 'e1', s: 0, c: { web: [0, 0] } }, { r: 'e1', s: 2, c: { web: [20, 0] } }],
    now: 8.1, want: { web: undefined },
  },
  {
    desc: 'silent within 3 intervals still counts',
    steps: [{ r: 'e1', s: 0, c: { web: [0, 0] } }, { r: 'e1', s: 2, c: { web: [20, 0] } }],
    now: 7.9, want: { web: { rps: 10, eps: 0, renderers: 1 } },
  },
  {
    desc: 'a report not newer than the last is ignored',
    steps: [{ r: 'e1', s: 0, c: { web: [0, 0] } }, { r: 'e1', s: 2, c: { web: [20, 0] } }, { r: 'e1', s: 1, c: { web: [999, 0] } }],
    now: 2, want: { web: { rps: 10, eps: 0, renderers: 1 } },
  },
  { desc: 'a service nobody reports: undefined', steps: [{ r: 'e1', s: 0, c: { web: [0, 0] } }, { r: 'e1', s: 2, c: { web: [2, 0] } }], now: 2, want: { nope: undefined } },
]

for (const c of cases) {
  t.test(c.desc, async (t) => {
    const rates = new LoadRates({ windowMs: (c.windowS ?? 10) * 1000 })
    for (const s of c.steps) rates.observe(msg(s), s.heard ?? T0 + s.s * 1000)
    const now = T0 + c.now * 1000
    for (const [svc, want] of Object.entries(c.want)) {
      const got = rates.rate(svc, now)
      if (want === undefined) { t.equal(got, undefined, `${svc}: no data`); continue }
      t.ok(got !== undefined, `${svc}: has a rate`)
      t.equal(Math.round(got!.requestsPerSec * 1000) / 1000, want.rps, `${svc} requests/s`)
      t.equal(Math.round(got!.errorsPerSec * 1000) / 1000, want.eps, `${svc} errors/s`)
      t.equal(got!.renderers, want.renderers, `${svc} renderers`)
      if (want.requests !== undefined) t.equal(got!.requests, want.requests, `${svc} requests in the window`)
    }
    const all = rates.all(now)
    for (const svc of Object.keys(c.want)) t.same(all[svc], rates.rate(svc, now), `all() agrees with rate() on ${svc}`)
  })
}

t.test('observe: stale answer, prune forgets the silent, a renderer back after silence starts afresh', async (t) => {
  const rates = new LoadRates({ windowMs: 10_000 })
  t.equal(rates.observe(msg({ r: 'e1', s: 0, c: { web: [0, 0] } }), T0), 'ok')
  t.equal(rates.observe(msg({ r: 'e1', s: 0, c: { web: [0, 0] } }), T0), 'stale', 'same time again')
  rates.observe(msg({ r: 'e1', s: 2, c: { web: [10, 0] } }), T0 + 2000)
  t.same(rates.renderers(T0 + 3000), ['e1'])
  rates.prune(T0 + 60_000)
  t.same(rates.renderers(T0 + 60_000), [])
  rates.observe(msg({ r: 'e1', s: 60, c: { web: [9000, 0] } }), T0 + 60_000)
  t.equal(rates.rate('web', T0 + 60_000), undefined, 'one report since it came back: no rate from before the silence')
  rates.observe(msg({ r: 'e1', s: 62, c: { web: [9020, 0] } }), T0 + 62_000)
  t.equal(rates.rate('web', T0 + 62_000)?.requestsPerSec, 10)
})

t.test('increase', async (t) => {
  t.equal(increase(undefined, 7), 7)
  t.equal(increase(5, 7), 2)
  t.equal(increase(9, 7), 7, 'a drop is a restart from 0')
})

t.test('renderer report: nginx stats → message', async (t) => {
  const ok = buildStatsReport('edge1', { boot: 'AbC9', generation: 3, capacity: 1, free: 1, services: { web: [12, 1], api: [0, 0] } }, T0)
  t.same(ok, { ok: true, message: { v: 1, renderer: 'edge1', boot: 'AbC9', at: T0, services: { web: { requests: 12, errors: 1 }, api: { requests: 0, errors: 0 } } } })
  const noBoot = buildStatsReport('edge1', { boot: '', generation: 0, capacity: 1, free: 1, services: {} }, T0)
  t.equal(noBoot.ok, false)
  const odd = buildStatsReport('edge1', { boot: 'b', generation: 0, capacity: 1, free: 1, services: { web: [1.5, 0] as [number, number] } }, T0)
  t.same(odd.ok ? odd.message.services : null, {}, 'a non-integer counter is left out')
})

t.test('registry parse: subject renderer must be the payload renderer; bad reports refused with a reason', async (t) => {
  const good = msg({ r: 'edge1', s: 0, c: { web: [1, 0] } })
  t.same(parseStatsMessage('driftgate.stats.renderer.edge1', encodeJson(good)), { ok: true, msg: good })
  t.match(parseStatsMessage('driftgate.stats.renderer.edge2', encodeJson(good)), { ok: false, reason: 'renderer_mismatch' })
  t.match(parseStatsMessage('driftgate.stats.renderer.edge1', new TextEncoder().encode('{')), { ok: false, reason: 'not_json' })
  t.match(parseStatsMessage('driftgate.stats.renderer.edge1', encodeJson({ ...good, services: { web: { requests: -1, errors: 0 } } })), { ok: false, reason: 'schema' })
  t.match(parseStatsMessage('driftgate.stats.renderer.edge1', encodeJson({ ...good, services: { 'Bad Name': { requests: 1, errors: 0 } } })), { ok: false, reason: 'schema' })
  t.match(parseStatsMessage('driftgate.stats.renderer.edge1', encodeJson({ ...good, v: 2 })), { ok: false, reason: 'schema' })
})
