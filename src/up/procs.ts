// Child processes of `driftgate up` and `driftgate demo` (nats-server, nginx,
// role processes): spawned with their output in a log file, and stopped by
// pid only — never by name, other nginx/nats-server may run on the machine.
import { spawn } from 'node:child_process'
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Spawned {
  pid: number
  /** Set once the process has exited (only for a process this one spawned). */
  exited: () => string | undefined
}

/**
 * Starts `bin args` with stdout+stderr appended to `logFile`. detached: its
 * own session, so it outlives this process (the demo); otherwise it stays in
 * our process group and a Ctrl-C in the terminal reaches it too.
 */
export function spawnLogged (bin: string, args: string[], logFile: string, opts: { detached?: boolean, env?: NodeJS.ProcessEnv, cwd?: string } = {}): Spawned {
  const fd = openSync(logFile, 'a')
  const child = spawn(bin, args, { detached: opts.detached === true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env, cwd: opts.cwd })
  closeSync(fd)
  let exited: string | undefined
  child.once('exit', (code, sig) => { exited = `${bin} exited (${code ?? sig})` })
  child.once('error', (err) => { exited = `${bin}: ${err.message}` })
  if (opts.detached === true) child.unref()
  if (child.pid === undefined) throw new Error(`cannot start ${bin}`)
  return { pid: child.pid, exited: () => exited }
}

/** A zombie counts as dead. */
export function isAlive (pid: number | undefined): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false
  try { process.kill(pid, 0) } catch { return false }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z'
  } catch { return false }
}

export function cmdline (pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() } catch { return '' }
}


/**
 * SIGTERM (or `sig`), up to graceMs, then SIGKILL. Only pids whose command
 * line contains `mustContain` (when given) are touched: a recorded pid may
 * have been reused by an unrelated process since.
 */
export async function stopPid (pid: number | undefined, opts: { graceMs?: number, sig?: NodeJS.Signals, mustContain?: string } = {}): Promise<boolean> {
  if (pid === undefined || !isAlive(pid)) return false
  if (opts.mustContain !== undefined && !cmdline(pid).includes(opts.mustContain)) return false
  try { process.kill(pid, opts.sig ?? 'SIGTERM') } catch { return false }
  const deadline = Date.now() + (opts.graceMs ?? 10_000)
  while (isAlive(pid) && Date.now() < deadline) await sleep(50)
  if (isAlive(pid)) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(50)
  }
  return true
}

/** Full path of an executable on PATH (plus the sbin folders a non-login root shell may lack), or undefined. */
export function which (bin: string, path = process.env.PATH ?? ''): string | undefined {
  if (bin.includes('/')) return canExec(bin) ? bin : undefined
  const dirs = [...path.split(delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
  for (const d of dirs) {
    if (d === '') continue
    const p = join(d, bin)
    if (canExec(p)) return p
  }
  return undefined
}

function canExec (p: string): boolean {
  try { accessSync(p, constants.X_OK); return true } catch { return false }
}

/** The last lines of a log file, for error messages. */
export function logTail (file: string, lines = 8): string {
  try { return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') } catch { return '' }
}
