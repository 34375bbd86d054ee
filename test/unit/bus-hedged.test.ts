// openHedged (src/bus/hedged.ts): asks again while earlier asks hang, keeps the first that opens.
import t from 'tap'
import { openHedged } from '../../src/bus/hedged.js'

interface W { id: number, stopped: boolean, stop: () => void }
const watch = (id: number): W => { const w: W = { id, stopped: false, stop: () => { w.stopped = true } }; return w }
const later = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('a hanging first ask is overtaken by a later one; the late opener is stopped', async (t) => {
  const opened: W[] = []
  let n = 0
  const open = async (): Promise<W> => {
    const id = ++n
    if (id === 1) { await later(120); const w = watch(id); opened.push(w); return w } // answers late
    await later(5)
    const w = watch(id); opened.push(w); return w
  }
  const w = await openHedged(open, { everyMs: 20, maxTries: 5 })
  t.equal(w?.id, 2, 'the second ask won')
  await later(150)
  t.equal(n, 2, 'no third ask once one opened')
  t.ok(opened.find((x) => x.id === 1)?.stopped, 'the first, opened late, was stopped')
  t.notOk(w?.stopped)
})

t.test('every ask failing rejects with the last error after maxTries', async (t) => {
  let n = 0
  const open = async (): Promise<W> => { n++; await later(2); throw new Error(`no ${n}`) }
  await t.rejects(openHedged(open, { everyMs: 1000, maxTries: 3 }), { message: 'no 3' })
  t.equal(n, 3, 'a fast failure asks again at once, up to maxTries')
})

t.test('closed stops asking and resolves undefined', async (t) => {
  let closed = false
  let n = 0
  const open = async (): Promise<W> => { n++; await later(1000); return watch(n) }
  const p = openHedged(open, { everyMs: 10, maxTries: 50, closed: () => closed })
  await later(35)
  closed = true
  t.equal(await p, undefined)
  t.ok(n >= 2 && n <= 5, `asked ${n} times before closing`)
})
