// The link between two sites (issue 21): two real nats-servers, each its own
// JetStream domain, joined by one leaf-node link through a relay this
// process can cut; site B mirrors site A's endpoint export bucket (what a
// registry with --remote-site a does; the puts here are the plain puts the
// export writer makes, registry/sites/export-writer.ts). Prints: lag from a put in A to the change in
// B's mirror (p50/p99), when the mirror's own report shows the link down,
// and how long after the link returns B has caught up with changes (puts
// and deletes) made during the cut.
// During each cut B's mirror must keep every key (fail static), and a quarter
// of the keys are rewritten twice (what a CAS-written bucket's mirror never
// recovered from, see docs/architecture.md "Sites"); "caught up" means B's
// mirror equals everything A holds, values and deletes.
//   npm run bench -- bench/sites-link.ts        env: BENCH_N (default 300), BENCH_ROUNDS (default 3),
//   BENCH_CUT_MS (default 0: each cut lasts until B sees the link down; the issue's 60 s: 60000)
import { connect } from 'nats'
import { startNatsSites } from '../test/harness/index.js'
import { openExportBucket, openRemoteMirror, mirrorState } from '../src/bus/index.js'

const N = Number(process.env.BENCH_N ?? 300)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CUT_MS = Number(process.env.BENCH_CUT_MS ?? 0)
const pct = (v: number[], p: number): number => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))] }
const median = (v: number[]): number => pct(v, 50)
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

async function main (): Promise<void> {
  const sites = await startNatsSites()
  const a = await connect({ servers: sites.a.url })
  const b = await connect({ servers: sites.b.url })
  try {
    const kvA = await openExportBucket(a)
    const mirror = await openRemoteMirror(b, 'b', 'a', 'endpoints')
    const jsm = await b.jetstreamManager()
    const waiting = new Map<string, (t: number) => void>()
    const seen = new Map<string, string>()
    // what A holds (null: deleted) and what B's mirror shows
    const truth = new Map<string, string | null>()
    const inB = new Map<string, string | null>()
    const dec = new TextDecoder()
    const w = await mirror.watch({ key: '>' })
    void (async () => {
      for await (const e of w) {
        seen.set(e.key, e.operation)
        inB.set(e.key, e.operation === 'PUT' ? dec.decode(e.value) : null)
        waiting.get(e.key)?.(performance.now())
      }
    })()
    const put = async (key: string, value: string): Promise<void> => { await kvA.put(key, value); truth.set(key, value) }
    const del = async (key: string): Promise<void> => { await kvA.delete(key); truth.set(key, null) }
    const equal = (): boolean => [...truth].every(([k, v]) => (inB.get(k) ?? null) === v)
    const liveInB = (): number => [...inB.values()].filter((v) => v !== null).length
    const lost: number[] = []
    const lags: number[] = []; const down: number[] = []; const catchUp: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < N; i++) {
        const key = `web.r${r}c${i}`
        const got = new Promise<number>((resolve) => waiting.set(key, resolve))
        const t0 = performance.now()
        await put(key, '{}')
        lags.push(await got - t0)
        waiting.delete(key)
      }
      const beforeCut = liveInB()
      sites.link.cut()
      const cut = performance.now()
      while ((await mirrorState(jsm, 'a', 'endpoints')).activeMs! <= 3000) await sleep(50)
      down.push(performance.now() - cut)
      // during the cut: half the keys deleted, a quarter rewritten twice, new ones written
      for (let i = 0; i < N; i += 2) await del(`web.r${r}c${i}`)
      for (let i = 1; i < N; i += 4) { await put(`web.r${r}c${i}`, '{"n":1}'); await put(`web.r${r}c${i}`, '{"n":2}') }
      for (let i = 0; i < 50; i++) await put(`web.r${r}cut${i}`, '{}')
      while (performance.now() - cut < CUT_MS) await sleep(100)
      lost.push(beforeCut - liveInB())
      sites.link.restore()
      const back = performance.now()
      while (!equal()) await sleep(20)
      catchUp.push(performance.now() - back)
    }
    const f = (v: number): string => v.toFixed(1).padStart(8)
    console.log(`put in A → change in B's mirror, ${lags.length} puts: p50 ${f(median(lags))} ms  p99 ${f(pct(lags, 99))} ms`)
    console.log(`link cut → mirror reports > 3 s silent (link down), ${ROUNDS} cuts: median ${f(median(down))} ms`)
    console.log(`keys B's mirror lost during the cuts (fail static: 0): ${lost.join(', ')}; cut length ${CUT_MS > 0 ? `${CUT_MS} ms` : 'until seen down'}`)
    console.log(`link back → B's mirror equals A (${N / 2} deletes, ${Math.ceil(N / 4)} keys rewritten twice, 50 new during each cut), ${ROUNDS} returns: median ${f(median(catchUp))} ms  max ${f(Math.max(...catchUp))} ms`)
    w.stop()
  } finally {
    await a.close(); await b.close(); await sites.stop()
  }
}

await main()
