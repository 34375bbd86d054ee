// The agent's log pieces that are pure: Docker line parsing, batching,
// the per-container rate limit, the resume cursor and its dedupe, and the
// shipper's order, budget and drop markers (against a scripted JetStream).
import t from 'tap'
import { Batcher, LineRateLimit, compareTs, cursorAfter, dropMarker, parseDockerLine, resumeFilter, sinceParam, tsNanos, type LogLine } from '../../src/agent/logs/index.js'
import { Shipper } from '../../src/agent/logs/shipper.js'
import { createLogger } from '../../src/core/index.js'

const L = (t: string, m: string, s: 'out' | 'err' = 'out'): LogLine => ({ t, s, m })

t.test('docker lines: timestamp, message, nanosecond order with trimmed zeros', async (t) => {
  t.same(parseDockerLine('2026-11-28T22:56:07.123456789Z GET / 200'), { t: '2026-11-28T22:56:07.123456789Z', m: 'GET / 200' })
  t.same(parseDockerLine('2026-11-28T22:56:07Z '), { t: '2026-11-28T22:56:07Z', m: '' })
  t.equal(parseDockerLine('no timestamp here'), null)
  t.equal(parseDockerLine(`2026-11-28T22:56:07.1Z ${'x'.repeat(20000)}`)?.m.length, 16384, 'cut at 16 KiB')
  t.equal(compareTs('2026-11-28T22:56:07.1Z', '2026-11-28T22:56:07.099999999Z'), 1, '.1 is later than .099999999')
  t.equal(compareTs('2026-11-28T22:56:07.5Z', '2026-11-28T22:56:07.500000000Z'), 0)
  t.equal(tsNanos('2026-11-28T22:56:07.000000001Z') - tsNanos('2026-11-28T22:56:07Z'), 1n)
  t.equal(sinceParam('1970-01-01T00:00:05.25Z'), '5.250000000')
})

t.test('batcher: flushes at the byte limit at once, else after the delay', async (t) => {
  const got: LogLine[][] = []
  const b = new Batcher({ maxDelayMs: 50, maxBytes: 200, flush: (lines) => { got.push(lines) } })
  for (let i = 0; i < 5; i++) b.push(L('2026-11-28T22:56:07Z', 'x'.repeat(40)))
  t.equal(got.length, 1, 'five ~80-byte lines cross 200 bytes: flushed without waiting')
  t.equal(got[0].length, 3)
  b.push(L('2026-11-28T22:56:08Z', 'late'))
  t.equal(got.length, 1, 'the rest waits for the timer')
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(got.length, 2)
  t.same(got[1].map((l) => l.m), ['x'.repeat(40), 'x'.repeat(40), 'late'])
  b.close()
  t.equal(got.length, 2, 'nothing left to flush')
})

t.test('rate limit: burst, then perSecond', async (t) => {
  let now = 0
  const r = new LineRateLimit(10, 20, () => now)
  let passed = 0
  for (let i = 0; i < 100; i++) if (r.take()) passed++
  t.equal(passed, 20, 'the burst')
  now += 1000
  passed = 0
  for (let i = 0; i < 100; i++) if (r.take()) passed++
  t.equal(passed, 10, 'one second refills perSecond')
})

t.test('resume: nothing before the cursor, each stored line at its timestamp once, everything after', async (t) => {
  const T = '2026-11-28T22:56:07.5Z'
  const stored = [L('2026-11-28T22:56:07.4Z', 'a'), L(T, 'same'), L(T, 'same'), L(T, 'b', 'err')]
  const cursor = cursorAfter(stored)
  t.equal(cursor?.t, T)
  // Docker resends from `since` = T: every line at T, then newer ones.
  const again = [L(T, 'same'), L(T, 'same'), L(T, 'same'), L(T, 'b', 'err'), L(T, 'b'), L('2026-11-28T22:56:07.6Z', 'new')]
  const keep = resumeFilter(cursor)
  t.same(again.filter(keep).map((l) => `${l.s}:${l.m}`), ['out:same', 'out:b', 'out:new'],
    'the third "same" at T is new, stderr b was stored, stdout b was not')
  t.notOk(resumeFilter(cursor)(L('2026-11-28T22:56:07.4Z', 'old')), 'older than the cursor')
  t.ok(resumeFilter(undefined)(L(T, 'x')), 'no cursor: everything')
  t.same(cursorAfter([dropMarker(T, 3, 'rate limit')]), undefined, 'markers are not lines')
  const next = cursorAfter([L(T, 'c')], cursor)
  t.equal(next?.atT.get('out\u0000same'), 2, 'a later batch at the same timestamp adds to the count')
  t.equal(next?.atT.get('out\u0000c'), 1)
  t.equal(cursor?.atT.get('out\u0000c'), undefined, 'the earlier cursor is not mutated')
})

interface Sent { subject: string, body: { lines: LogLine[] }, msgID?: string }

function scriptedJs (fail: () => boolean): { js: never, sent: Sent[] } {
  const sent: Sent[] = []
  const js = {
    publish: async (subject: string, data: string, o: { msgID?: string }) => {
      await new Promise((resolve) => setImmediate(resolve))
      if (fail()) throw new Error('503 no responders')
      sent.push({ subject, body: JSON.parse(data), msgID: o.msgID })
    },
  }
  return { js: js as never, sent }
}

function counters (): { c: Record<string, number>, metrics: ConstructorParameters<typeof Shipper>[0]['metrics'] } {
  const c: Record<string, number> = { shipped: 0, rate: 0, buffer: 0, failed: 0, buffered: 0 }
  return { c, metrics: { shipped: (n) => { c.shipped += n }, dropped: (r, n) => { c[r] += n }, buffered: (b) => { c.buffered = b }, publishFailed: () => { c.failed++ } } }
}

const head = { v: 1 as const, service: 'web', host: 'h1', container: 'abcdef012345' }
const log = createLogger({ role: 'test', level: 'silent' })

t.test('shipper: in order, retried while NATS is away, buffer budget drops counted and marked', async (t) => {
  let down = true
  const { js, sent } = scriptedJs(() => down)
  const { c, metrics } = counters()
  const s = new Shipper({ js, log, budgetBytes: 250, metrics })
  const ch = s.channel('driftgate.logs.web.h1.abcdef012345', head)
  const batch = (i: number): LogLine[] => [L(`2026-11-28T22:56:0${i}Z`, `line ${i}`)]
  for (let i = 0; i < 9; i++) s.offer(ch, batch(i), 100)
  t.equal(c.buffer, 7, 'two 100-byte batches fit a 250-byte budget: 7 lines dropped')
  t.equal(ch.cursor?.t, '2026-11-28T22:56:01Z', 'the in-memory cursor is the last line queued')
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.ok(c.failed > 0 && sent.length === 0, 'kept, not lost, while publishing fails')
  down = false
  t.ok(await s.flushed(5000))
  s.offer(ch, batch(9), 100)
  t.ok(await s.flushed(5000))
  t.same(sent.map((x) => x.body.lines.map((l) => l.m)), [['line 0'], ['line 1'], ['… 7 lines dropped (buffer full)', 'line 9']], 'in order; the marker leads the next batch')
  t.equal(sent[2].body.lines[0].s, 'drop')
  t.equal(sent[2].body.lines[0].n, 7)
  t.equal(new Set(sent.map((x) => x.msgID)).size, 3, 'one message id per batch')
  t.equal(c.buffered, 0)
  s.close()
})

t.test('demux: frames split anywhere, stdout/stderr apart, tty raw', async (t) => {
  const { LogDemuxer } = await import('../../src/agent/logs/demux.js')
  const frame = (kind: number, s: string): Buffer => {
    const p = Buffer.from(s)
    const h = Buffer.alloc(8)
    h[0] = kind
    h.writeUInt32BE(p.length, 4)
    return Buffer.concat([h, p])
  }
  const got: string[] = []
  const d = new LogDemuxer((s, l) => got.push(`${s}:${l}`))
  const all = Buffer.concat([frame(1, 'T1 héllo\n'), frame(2, 'T2 oops\n'), frame(1, 'T3 par'), frame(1, 'tial\n'), frame(1, 'T4 no newline')])
  for (let i = 0; i < all.length; i += 3) d.push(all.subarray(i, i + 3)) // 3-byte chunks: headers and UTF-8 split
  t.same(got, ['out:T1 héllo', 'err:T2 oops', 'out:T3 partial'])
  d.end()
  t.same(got.at(-1), 'out:T4 no newline', 'the last line without newline at the end')
  const tty: string[] = []
  const d2 = new LogDemuxer((s, l) => tty.push(`${s}:${l}`), true)
  d2.push(Buffer.from('a\nb'))
  d2.push(Buffer.from('c\n'))
  t.same(tty, ['out:a', 'out:bc'])
})
