import t from 'tap'
import { Coalescer, type Clock } from '../../src/renderer/coalescer.js'

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements Clock {
  t = 0
  private timers = new Map<number, { at: number, fn: () => void }>()
  private next = 1
  now = (): number => this.t
  setTimeout = (fn: () => void, ms: number): unknown => { const id = this.next++; this.timers.set(id, { at: this.t + ms, fn }); return id }
  clearTimeout = (h: unknown): void => { this.timers.delete(h as number) }
  async advance (ms: number): Promise<void> {
    const end = this.t + ms
    for (;;) {
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
      if (due == null) break
      this.t = due[1].at
      this.timers.delete(due[0])
      due[1].fn()
      await flush()
    }
    this.t = end
    await flush()
  }
}
const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve)) }

function setup (runMs = 0): { c: Coalescer, clock: FakeClock, starts: number[], inFlight: () => number, maxInFlight: () => number } {
  const clock = new FakeClock()
  const starts: number[] = []
  let inFlight = 0; let maxInFlight = 0
  const c = new Coalescer({
    minWaitMs: 50, maxWaitMs: 1000, clock,
    run: async () => {
      starts.push(clock.now()); inFlight++; maxInFlight = Math.max(maxInFlight, inFlight)
      if (runMs > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, runMs))
      inFlight--
    },
  })
  return { c, clock, starts, inFlight: () => inFlight, maxInFlight: () => maxInFlight }
}

t.test('the first change after quiet runs at once', async (t) => {
  const { c, clock, starts } = setup()
  c.trigger(); await flush()
  t.same(starts, [0])
  await clock.advance(500)
  c.trigger(); await flush()
  t.same(starts, [0, 500])
})

t.test('a burst is merged: waits for min quiet, at most max after the first pending change', async (t) => {
  const { c, clock, starts } = setup()
  c.trigger(); await flush() // runs at 0
  await clock.advance(10); c.trigger() // within min window of the last change: scheduled
  await clock.advance(20); c.trigger()
  await clock.advance(49)
  t.same(starts, [0])
  await clock.advance(1)
  t.same(starts, [0, 80])
})

t.test('a never-ending stream is applied at least every maxWait', async (t) => {
  const { c, clock, starts } = setup()
  for (let i = 0; i < 5000; i++) { c.trigger(); await clock.advance(0.2) } // 5,000 changes in 1 s
  await clock.advance(2000)
  t.ok(starts.length <= 3, `runs ${starts.length}`)
  t.ok(starts.length >= 2)
  for (let i = 1; i < starts.length; i++) t.ok(starts[i] - starts[i - 1] <= 1001)
})

t.test('never more than one run in flight; changes during a run cause exactly one more run', async (t) => {
  const { c, clock, starts, maxInFlight } = setup(300)
  c.trigger(); await flush()
  for (let i = 0; i < 10; i++) { await clock.advance(20); c.trigger() }
  await clock.advance(2000)
  t.equal(maxInFlight(), 1)
  t.same(starts, [0, 300])
})

t.test('no change, no run; errors are reported and do not stop it; close is idempotent', async (t) => {
  const clock = new FakeClock()
  let runs = 0
  const errors: unknown[] = []
  const c = new Coalescer({ minWaitMs: 50, maxWaitMs: 1000, clock, run: async () => { runs++; throw new Error('boom') }, onError: (e) => errors.push(e) })
  await clock.advance(5000)
  t.equal(runs, 0)
  c.trigger(); await flush()
  await clock.advance(100); c.trigger(); await flush()
  t.equal(runs, 2)
  t.equal(errors.length, 2)
  await c.close(); await c.close()
  c.trigger(); await clock.advance(5000)
  t.equal(runs, 2)
})
