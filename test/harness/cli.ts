// Command-line entry for the harness (run with the TS loader, e.g.
//   node --import=@tapjs/typescript/import test/harness/cli.ts cleanup [--all]
//   node --import=@tapjs/typescript/import test/harness/cli.ts up /tmp/tb.json [hosts]
//   node --import=@tapjs/typescript/import test/harness/cli.ts down /tmp/tb.json
// `reap <pid>` is the reaper started by reaper.ts: it waits for the test
// process to die and removes what that process left.
import { unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll } from './cleanup.js'
import { sleep } from './exec.js'
import { isAlive } from './procs.js'
import { STATE_DIR } from './state.js'
import { Testbed } from './testbed.js'

async function reap(owner: number): Promise<void> {
  while (isAlive(owner)) await sleep(250)
  const done = await cleanupAll({ ownerPid: owner })
  if (done.length) console.log(`reaper: owner ${owner} died, removed: ${done.join(', ')}`)
  // A clean run leaves no log behind; a failed one (thrown above) keeps it.
  try { unlinkSync(join(STATE_DIR, `reaper-${owner}.log`)) } catch { /* none */ }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, arg, arg2] = argv
  if (cmd === 'reap') return reap(Number(arg))
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
  console.error('usage: cli.ts cleanup [--all] | up <file> [hosts] | down <file> | reap <pid>')
  process.exitCode = 2
}

main(process.argv.slice(2)).then(
  () => process.exit(),
  (err: unknown) => { console.error(err instanceof Error ? err.message : err); process.exit(1) },
)
