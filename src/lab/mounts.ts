// Mount bookkeeping. dockerd bind-mounts its data root onto itself and leaves
// overlay and nsfs mounts under the per-host directories; they must all go
// before the directory can be removed.
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tryRun } from './exec.js'

// mountinfo escapes space, tab, newline and backslash as octal.
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))

export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/'
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map(unescape)
    .filter((m) => m === dir || m.startsWith(prefix))
}

/** Lazily unmounts everything under dir, deepest first, until nothing is left. */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dir).sort((a, b) => b.length - a.length)
    if (!mounts.length) return
    for (const m of mounts) await tryRun('umount', ['-l', m])
  }
  const left = mountsUnder(dir)
  if (left.length) throw new Error(`mounts left under ${dir}: ${left.join(', ')}`)
}

/** Harness temp dirs are /tmp/driftgate-<kind>-<hex id>. */
export function isHarnessDir(dir: string): boolean {
  return /^\/tmp\/driftgate-(tb|nginx|nats)-[0-9a-f]+$/.test(dir)
}

/**
 * Removes a harness temp dir. Refuses anything that does not look like one,
 * and anything with a mount still inside (rm would delete through it).
 */
export async function removeHarnessDir(dir: string): Promise<void> {
  if (!isHarnessDir(dir)) throw new Error(`refusing to remove ${dir}: not a harness temp dir`)
  await unmountUnder(dir)
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}
