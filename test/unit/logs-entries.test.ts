// What readers see: replicas merged by Docker's timestamp, the
// `web.2@h1 | ` prefix, the API's batch decoding and filters, the
// `since` forms, and the CLI's flags turned into the API query.
import t from 'tap'
import { entryPrefix, formatEntry, sortByTime, type LogEntry } from '../../src/core/index.js'
import { entriesOf, startTime } from '../../src/registry/lookup/routes/logs.js'
import { logsPath } from '../../src/client/index.js'
import { logsRequest, printer } from '../../src/cli/logs.js'

const E = (t: string, replica: number, host: string, line: string): LogEntry =>
  ({ t, stream: 'stdout', service: 'web', replica, host, container: `c${replica}`, line })

t.test('merge by timestamp: trimmed fractions compare right, ties keep arrival order', async (t) => {
  const merged = sortByTime([
    E('2026-11-28T22:56:07.5Z', 1, 'h1', 'b'),
    E('2026-11-28T22:56:07.123456789Z', 2, 'h2', 'a'),
    E('2026-11-28T22:56:08Z', 3, 'h3', 'd'),
    E('2026-11-28T22:56:07.500000000Z', 2, 'h2', 'c'),
  ])
  t.same(merged.map((e) => e.line), ['a', 'b', 'c', 'd'])
})

t.test('prefix like docker service logs', async (t) => {
  t.equal(entryPrefix(E('2026-11-28T22:56:07Z', 2, 'h1', 'x')), 'web.2@h1')
  t.equal(formatEntry(E('2026-11-28T22:56:07Z', 2, 'h1', 'GET / 200')), 'web.2@h1 | GET / 200')
  const { replica: _, ...noReplica } = E('2026-11-28T22:56:07Z', 2, 'h1', 'x')
  t.equal(entryPrefix({ ...noReplica, container: 'abcdef012345' }), 'web.abcdef012345@h1', 'unmanaged container: its id')
  const out: string[] = []
  const p = printer((s) => out.push(s), false)
  p(E('2026-11-28T22:56:07Z', 12, 'h1', 'one'))
  p(E('2026-11-28T22:56:07Z', 2, 'h1', 'two'))
  t.same(out, ['web.12@h1 | one\n', 'web.2@h1  | two\n'], 'columns line up with the widest prefix seen')
})

t.test('a stored batch to entries, with the query filters', async (t) => {
  const batch = Buffer.from(JSON.stringify({
    v: 1, service: 'web', replica: 2, host: 'h1', container: 'abcdef012345',
    lines: [{ t: 'T1', s: 'out', m: 'o' }, { t: 'T2', s: 'err', m: 'e' }, { t: 'T3', s: 'drop', m: '… 5 lines dropped (rate limit)', n: 5 }],
  }))
  t.same(entriesOf(batch, {}).map((e) => e.stream), ['stdout', 'stderr', 'dropped'])
  t.same(entriesOf(batch, { stream: 'stderr' }).map((e) => e.line), ['e', '… 5 lines dropped (rate limit)'], 'markers stay visible')
  t.same(entriesOf(batch, { replica: 3 }), [])
  t.same(entriesOf(batch, {})[0], { t: 'T1', stream: 'stdout', service: 'web', replica: 2, host: 'h1', container: 'abcdef012345', line: 'o' })
  t.same(entriesOf(Buffer.from('not json'), {}), [], 'garbage is skipped')
})

t.test('since: a duration back from now or an RFC3339 time', async (t) => {
  t.equal(startTime('10m', 1_000_000)?.getTime(), 400_000)
  t.equal(startTime('2026-11-28T22:56:07Z')?.toISOString(), '2026-11-28T22:56:07.000Z')
  t.equal(startTime(undefined), undefined)
  t.throws(() => startTime('yesterday'), /neither a duration/)
})

t.test('CLI flags to the API path', async (t) => {
  t.equal(logsPath('web', logsRequest({ follow: true, since: '1m', tail: '100', host: 'h1', replica: '2', stderr: true })),
    '/v1/services/web/logs?since=1m&tail=100&host=h1&replica=2&stream=stderr&follow=true')
  t.equal(logsPath('web', logsRequest({})), '/v1/services/web/logs')
  t.throws(() => logsRequest({ tail: '-1' }), /whole number/)
  t.throws(() => logsRequest({ host: 'h1.>' }))
})
