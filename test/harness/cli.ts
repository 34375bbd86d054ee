// Command-line entry for the harness (run with the TS loader, e.g.
//   node --import=tsx test/harness/cli.ts cleanup [--all]
//   node --import=tsx test/harness/cli.ts up /tmp/tb.json [hosts]
//   node --import=tsx test/harness/cli.ts down /tmp/tb.json
// The reaper that removes what a dead test process left is src/lab/reap.ts.
import { unlinkSync } from 'node:fs'
import { cleanupAll, Testbed } from '../../src/lab/index.js'

async function main(argv: string[]): Promise<void> {
  const [cmd, arg, arg2] = argv
  if (cmd === 'cleanup') {
    const done = await cleanupAll({ all: arg === '--all' })
    console.log(done.length ? `removed:\n  ${done.join('\n  ')}` : 'nothing to clean up')
    return
  }
  if (cmd === 'up' && arg) {
    const tb = await Testbed.create({ hosts: arg2 ? Number(arg2) : 3, persistent: true })
    tb.writeDescriptor(arg)
    console.log(`testbed ${tb.id} on ${tb.subnet}: ${arg} (export DRIFTGATE_TESTBED_FILE=${arg})`)
    return
  }
  if (cmd === 'down' && arg) {
    await Testbed.attach(arg).teardown(true)
    try { unlinkSync(arg) } catch { /* gone */ }
    return
  }
  console.error('usage: cli.ts cleanup [--all] | up <file> [hosts] | down <file>')
  process.exitCode = 2
}

main(process.argv.slice(2)).then(
  () => process.exit(),
  (err: unknown) => { console.error(err instanceof Error ? err.message : err); process.exit(1) },
)
