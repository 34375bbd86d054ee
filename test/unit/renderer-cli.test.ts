import t from 'tap'
import { captureProgram } from './cli-fixtures.js'
import { ConfigError } from '../../src/core/index.js'

const program = captureProgram

t.test('renderer --help lists its options and an example', async (t) => {
  const { p, out } = program()
  await t.rejects(p.parseAsync(['node', 'driftgate', 'renderer', '--help']))
  for (const s of ['--out', '--nginx-conf', '--templates', '--nginx-bin', '--id', '--min-wait', '--max-wait', '--status-port', '--nats', '--metrics-port', 'Example:']) {
    t.match(out(), s)
  }
})

const bad: Array<[string, string[], string]> = [
  ['no --out', ['--nginx-conf', '/x.conf'], 'out'],
  ['a hostile id', ['--out', '/o', '--nginx-conf', '/x', '--id', 'x;}server{'], 'id'],
  ['a wait without unit', ['--out', '/o', '--nginx-conf', '/x', '--min-wait', 'soon'], 'minWait'],
  ['a status port out of range', ['--out', '/o', '--nginx-conf', '/x', '--status-port', '99999'], 'statusPort'],
]
for (const [desc, args, field] of bad) {
  t.test(`bad config is refused before connecting: ${desc}`, async (t) => {
    const { p } = program()
    const err = await p.parseAsync(['node', 'driftgate', 'renderer', '--nats', 'nats://127.0.0.1:1', ...args]).catch((e: unknown) => e)
    t.type(err, ConfigError)
    t.match((err as Error).message, field)
  })
}
