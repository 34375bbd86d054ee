import t from 'tap'
import {
  isDnsLabel, assertDnsLabel, InvalidNameError, parseDuration, parseSize, compareVersion, newInstanceId,
} from '../../src/core/index.js'

const labels: Array<{ desc: string, input: unknown, expected: boolean }> = [
  { desc: 'simple', input: 'web', expected: true },
  { desc: 'digits and inner dash', input: 'web-2', expected: true },
  { desc: 'single char', input: 'a', expected: true },
  { desc: '63 chars', input: 'a'.repeat(63), expected: true },
  { desc: '64 chars', input: 'a'.repeat(64), expected: false },
  { desc: 'uppercase', input: 'Web', expected: false },
  { desc: 'leading dash', input: '-web', expected: false },
  { desc: 'trailing dash', input: 'web-', expected: false },
  { desc: 'dot', input: 'web.x', expected: false },
  { desc: 'nginx injection', input: 'x;}server{listen 1', expected: false },
  { desc: 'newline', input: 'web\nserver', expected: false },
  { desc: 'trailing newline', input: 'web\n', expected: false },
  { desc: 'empty', input: '', expected: false },
  { desc: 'not a string', input: 42, expected: false },
]

t.test('DNS label rule', async (t) => {
  for (const c of labels) t.equal(isDnsLabel(c.input), c.expected, c.desc)
  t.throws(() => assertDnsLabel('service name', 'a;b'), InvalidNameError)
  t.match((() => { try { assertDnsLabel('service name', 'a;b') } catch (e) { return (e as Error).message } })(),
    /invalid service name "a;b": must be a DNS label/)
})

t.test('durations and sizes', async (t) => {
  t.equal(parseDuration('250ms'), 250)
  t.equal(parseDuration('5s'), 5000)
  t.equal(parseDuration('1.5m'), 90_000)
  t.equal(parseDuration(42), 42)
  t.throws(() => parseDuration('5 parsecs'), /invalid duration/)
  t.equal(parseSize('256Mi'), 256 * 1024 * 1024)
  t.equal(parseSize('1G'), 1e9)
  t.throws(() => parseSize('lots'), /invalid size/)
})

t.test('instance ids sort by start time; (instance, seq) ordering', async (t) => {
  const a = newInstanceId(1_700_000_000_000)
  const b = newInstanceId(1_700_000_000_001)
  t.match(a, /^[0-9a-z]{9}-[0-9a-f]{6}$/)
  t.ok(a < b, 'a later start sorts after')
  t.ok(compareVersion(a, 99, b, 1) < 0, 'any seq of an older instance is older')
  t.ok(compareVersion(b, 2, b, 1) > 0)
  t.equal(compareVersion(b, 2, b, 2), 0)
})
