// The reaper: a detached watcher process, one per test process, that waits for
// its owner to die and then removes whatever the owner's records still name.
// It covers what in-process hooks cannot: SIGKILL, a tap timeout, a crash.
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isAlive } from './procs.js'
import { ensureStateDir, STATE_DIR } from './state.js'

let reaperPid: number | undefined

/** The --import flag that lets a child node run the lab's .ts files (none when running compiled .js). */
export function tsLoaderArgs(): string[] {
  const self = fileURLToPath(import.meta.url)
  if (extname(self) !== '.ts') return [] // running compiled .js: no loader needed
  return [`--import=${import.meta.resolve('tsx')}`]
}

/** A sibling module of this file, .ts or .js as this file is. */
export function labFile(name: string): string {
  const self = fileURLToPath(import.meta.url)
  return join(self, '..', name + extname(self))
}

export function ensureReaper(): void {
  if (process.env.DRIFTGATE_HARNESS_NO_REAPER === '1') return
  if (reaperPid && isAlive(reaperPid)) return
  ensureStateDir()
  const log = openSync(join(STATE_DIR, `reaper-${process.pid}.log`), 'a')
  const child = spawn(process.execPath, [...tsLoaderArgs(), labFile('reap'), String(process.pid)], {
    detached: true, // own session: a Ctrl-C aimed at the tests does not reach it
    stdio: ['ignore', log, log],
    // tap's NODE_OPTIONS instruments children; the reaper must stay independent.
    // Transpile-only: starts in half the time, and tsc checks these files anyway.
    env: { ...process.env, NODE_OPTIONS: '', TS_NODE_TRANSPILE_ONLY: '1' },
  })
  closeSync(log)
  child.unref()
  reaperPid = child.pid
}
