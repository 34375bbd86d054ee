// The demo's control plane as detached processes (they keep running after
// `driftgate demo` returns): nats-server, `driftgate registry`, one
// `driftgate agent` per lab host, `driftgate renderer` and its nginx. Each
// role reads a YAML config in the demo dir, so its command line names the
// dir (how `demo down` recognises its own pids) and an operator can read it.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { projectRoot } from '../paths.js'
import { PreflightError } from '../core/index.js'
import { logTail, spawnLogged } from '../up/index.js'
import { setTimeout as sleep } from 'node:timers/promises'

/** How to run this very driftgate again: node, its flags (the TS loader when run from src), the entry script. */
export function selfCommand (): { bin: string, args: string[] } {
  return { bin: process.execPath, args: [...process.execArgv, process.argv[1]] }
}

export const logFile = (dir: string, name: string): string => join(dir, 'logs', `${name}.log`)

/** Starts `driftgate <role> --config <dir>/<name>.yaml [extra]` detached; returns its pid. */
export function spawnRole (dir: string, name: string, role: string, config: Record<string, unknown>, extra: string[] = []): number {
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `# driftgate ${role} of the demo\n${stringify(config)}`, { mode: 0o600 })
  const self = selfCommand()
  // tap's NODE_OPTIONS (when a test runs the demo) must not follow the daemons.
  const env = { ...process.env, NODE_OPTIONS: '' }
  const proc = spawnLogged(self.bin, [...self.args, role, '--config', file, ...extra], logFile(dir, name), { detached: true, env, cwd: projectRoot() })
  return proc.pid
}


/**
 * Polls until check() is true; fails early when the process died, with the
 * tail of its log, so a broken role explains itself.
 */
export async function waitRole (what: string, pid: number, log: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    let alive = true
    try { process.kill(pid, 0) } catch { alive = false }
    if (!alive) throw new PreflightError(`${what} exited during start-up; last lines of ${log}:\n${logTail(log, 10)}`)
    if (Date.now() > deadline) throw new PreflightError(`${what} not ready after ${timeoutMs / 1000} s; see ${log}`)
    await sleep(250)
  }
}
