// Small pure pieces: backoff, JSON line splitting, allocation sums.
import t from 'tap'
import { backoffDelay } from '../../src/core/index.js'
import { LineSplitter } from '../../src/agent/docker-events.js'
import { reservationOf, sumAllocated } from '../../src/agent/heartbeat.js'
import { intInRange } from '../../src/agent/labels.js'

t.test('backoff grows, caps and jitters', async (t) => {
  const mid = (): number => 0.5
  t.same([1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, {}, mid)), [200, 400, 800, 1600, 3200, 5000, 5000])
  t.equal(backoffDelay(1, { jitter: 0.2 }, () => 0), 160)
  t.equal(backoffDelay(1, { jitter: 0.2 }, () => 1), 240)
  t.equal(backoffDelay(1000, {}, mid), 5000, 'huge attempt numbers do not overflow')
})

t.test('JSON lines split across chunks', async (t) => {
  const s = new LineSplitter()
  t.same(s.push('{"a":1}\n{"b"'), ['{"a":1}'])
  t.same(s.push(':2}\n\n'), ['{"b":2}'])
  t.same(s.push('{"c":3}'), [])
  t.same(s.push('\n'), ['{"c":3}'])
})

t.test('allocated sums reservations; unknown ones count as containers only', async (t) => {
  const r = reservationOf({ Id: 'x', HostConfig: { NanoCpus: 500_000_000, Memory: 256 * 1024 * 1024 } })
  t.same(r, { cpus: 0.5, memoryBytes: 268435456 })
  t.same(sumAllocated([r, r, undefined]), { cpus: 1, memoryBytes: 536870912, containers: 3 })
  t.same(sumAllocated([]), { cpus: 0, memoryBytes: 0, containers: 0 })
})

t.test('strict integers for labels', async (t) => {
  t.equal(intInRange('80', 1, 65535), 80)
  t.equal(intInRange('0', 0, 5), 0)
  for (const bad of ['', ' 80', '80 ', '+80', '8e1', '0x50', '08', '1.0', '9999999']) t.equal(intInRange(bad, 0, 65535), undefined, JSON.stringify(bad))
})
