// Entry script of the reaper that reaper.ts starts detached, one per process
// that owns lab records: `node reap.js <owner pid>` waits for the owner to die
// and removes what its records still name (testbeds, nginx, nats-server).
// It sets exitCode rather than exiting: nothing holds the event loop open.
import { unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll } from './cleanup.js'
import { sleep } from './exec.js'
import { isAlive } from './procs.js'
import { STATE_DIR } from './state.js'

async function reap(owner: number): Promise<void> {
  while (isAlive(owner)) await sleep(250)
  const done = await cleanupAll({ ownerPid: owner })
  if (done.length) process.stdout.write(`reaper: owner ${owner} died, removed: ${done.join(', ')}\n`)
  // A clean run leaves no log behind; a failed one (thrown above) keeps it.
  try { unlinkSync(join(STATE_DIR, `reaper-${owner}.log`)) } catch { /* none */ }
}

const owner = Number(process.argv[2])
if (!Number.isInteger(owner) || owner <= 0) {
  process.stderr.write('usage: reap.js <owner pid>\n')
  process.exitCode = 2
} else {
  reap(owner).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
