import t from 'tap'
import { KeyedSerializer } from '../../src/registry/serializer.js'
import { expiredTombstones } from '../../src/registry/gc.js'
import type { EndpointRecord } from '../../src/core/index.js'

const tick = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('same key runs in order, different keys in parallel, failures do not block', async (t) => {
  const s = new KeyedSerializer()
  const log: string[] = []
  const task = (name: string, ms: number, fail = false) => async () => {
    log.push(`start ${name}`); await tick(ms); log.push(`end ${name}`)
    if (fail) throw new Error(name)
  }
  const a1 = s.run('a', task('a1', 20, true))
  const a2 = s.run('a', task('a2', 1))
  const b1 = s.run('b', task('b1', 5))
  await t.rejects(a1)
  await a2; await b1
  t.ok(log.indexOf('end a1') < log.indexOf('start a2'), 'a2 waits for a1 even though a1 failed')
  t.ok(log.indexOf('end b1') < log.indexOf('end a1'), 'b runs alongside a')
  await s.idle()
  t.equal(s.size, 0, 'keys are forgotten once idle')
})

t.test('expiredTombstones picks only old tombstones', async (t) => {
  const rec = (removed: boolean, updatedAt: number) => ({ value: { removed, updatedAt } as EndpointRecord, revision: updatedAt })
  const got = expiredTombstones([['old', rec(true, 1)], ['young', rec(true, 900)], ['live', rec(false, 1)], ['gone', { value: null, revision: 3 }]], 1000, 500)
  t.same(got, [{ key: 'old', revision: 1 }])
})
