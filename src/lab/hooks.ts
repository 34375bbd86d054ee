// Best-effort teardown inside the test process. Every live harness object
// registers here. On SIGINT/SIGTERM the async teardowns run before exiting; on
// 'exit' only synchronous work is possible, so the daemons get a SIGTERM and
// the reaper process (reaper.ts) finishes the job once this process is gone.
import { withTimeout } from './exec.js'
import { ensureReaper } from './reaper.js'

export interface LiveObject {
  /** Synchronous: signal the main daemons (used from the 'exit' handler). */
  kill(): void
  teardown(): Promise<void>
}

const live = new Map<string, LiveObject>()
let installed = false

export function track(key: string, obj: LiveObject): void {
  install()
  live.set(key, obj)
  ensureReaper()
}

export function untrack(key: string): void {
  live.delete(key)
}

/** Tears down everything this process still holds (used by signal handlers and tests). */
export async function teardownAll(): Promise<void> {
  const objs = [...live.values()]
  await Promise.allSettled(objs.map((o) => o.teardown()))
}

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', () => {
    for (const o of live.values()) {
      try { o.kill() } catch { /* best effort */ }
    }
  })
  const onSignal = (sig: NodeJS.Signals, code: number) => {
    process.stderr.write(`harness: ${sig}: tearing down ${live.size} object(s)\n`)
    withTimeout(teardownAll(), 60_000, 'teardown on signal')
      .catch((err: unknown) => process.stderr.write(`harness: ${String(err)}\n`))
      .finally(() => process.exit(code))
  }
  process.once('SIGINT', () => onSignal('SIGINT', 130))
  process.once('SIGTERM', () => onSignal('SIGTERM', 143))
}
