import t from 'tap'
import { SnapshotGate } from '../../src/registry/snapshot-gate.js'

// A task that runs until released, recording when it started.
function held (log: string[], name: string): { task: () => Promise<string>, release: (fail?: boolean) => void } {
  let release!: (fail?: boolean) => void
  const done = new Promise<void>((resolve, reject) => { release = (fail) => { if (fail === true) reject(new Error(name)); else resolve() } })
  return { task: async () => { log.push(name); await done; return name }, release }
}
const turn = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

t.test('runs snapshots while their endpoints fit, the rest wait in arrival order', async (t) => {
  const g = new SnapshotGate(100)
  const log: string[] = []
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => held(log, n))
  const pa = g.run(60, a.task)
  const pb = g.run(30, b.task)
  const pc = g.run(50, c.task) // does not fit beside a and b
  const pd = g.run(5, d.task) // would fit, but waits behind c (FIFO: c is not starved)
  await turn()
  t.same(log, ['a', 'b'])
  t.equal(g.inFlight, 90)
  t.equal(g.waiting, 2)
  b.release()
  await pb; await turn()
  t.same(log, ['a', 'b'], 'c still does not fit beside a')
  a.release(true) // a failure gives its room back too
  await t.rejects(pa, /a/)
  await turn()
  t.same(log, ['a', 'b', 'c', 'd'], 'c then d start once a settled')
  t.equal(g.inFlight, 55)
  c.release(); d.release()
  t.equal(await pc, 'c')
  t.equal(await pd, 'd')
  t.equal(g.inFlight, 0)
  t.equal(g.waiting, 0)
})

t.test('a snapshot larger than the capacity runs alone, never starved', async (t) => {
  const g = new SnapshotGate(10)
  const log: string[] = []
  const small = held(log, 'small')
  const big = held(log, 'big')
  const ps = g.run(3, small.task)
  const pb = g.run(500, big.task)
  await turn()
  t.same(log, ['small'], 'the big one waits for the room to empty')
  small.release(); await ps; await turn()
  t.same(log, ['small', 'big'])
  t.equal(g.inFlight, 10, 'it takes the whole capacity')
  big.release(); await pb
  t.equal(g.inFlight, 0)
})

t.test('an empty snapshot still counts (it reads the host and may remove records)', async (t) => {
  const g = new SnapshotGate(2)
  const log: string[] = []
  const [a, b, c] = ['a', 'b', 'c'].map((n) => held(log, n))
  const ps = [g.run(0, a.task), g.run(0, b.task), g.run(0, c.task)]
  await turn()
  t.same(log, ['a', 'b'])
  a.release(); b.release(); c.release()
  t.same(await Promise.all(ps), ['a', 'b', 'c'])
})
