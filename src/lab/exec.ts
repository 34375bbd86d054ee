// Small promise wrappers around child_process.execFile plus a generic poller.
// Every harness module shells out through here so errors always name the
// command and carry its stderr, which is what one needs when a daemon refuses.
import { execFile } from 'node:child_process'

export interface RunOptions {
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface RunResult {
  ok: boolean
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command; never throws for a non-zero exit (see `run` for that). */
export function tryRun(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 60_000, env: opts.env, cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
        resolve({ ok: !err, code, stdout: String(stdout), stderr: String(stderr || (err && !stderr ? err.message : '')) })
      },
    )
  })
}

/** Runs a command and returns its stdout; throws with command + stderr on failure. */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await tryRun(cmd, args, opts)
  if (!r.ok) {
    const shown = [cmd, ...args].join(' ')
    throw new Error(`command failed (exit ${r.code}): ${shown}\n${r.stderr.trim()}`)
  }
  return r.stdout
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export interface WaitOptions {
  timeoutMs?: number
  intervalMs?: number
  what?: string
}

/** Thrown inside a waitFor() check to stop waiting at once (e.g. the daemon died). */
export class WaitAbort extends Error {}

/**
 * Polls `check` until it returns something other than undefined/false.
 * Exceptions count as "not yet" (the last one is reported on timeout), except
 * WaitAbort, which ends the wait immediately.
 */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, opts: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000)
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      if (err instanceof WaitAbort) throw err
      last = err
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : ''
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${why}`)
    }
    await sleep(opts.intervalMs ?? 100)
  }
}

/** Rejects after ms unless the promise settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}
