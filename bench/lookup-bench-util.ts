// Helpers shared by the lookup benchmarks: pinned child processes, medians.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { readFileSync } from 'node:fs'

/**
 * CPU seconds (user + system) a process has used so far, from /proc. The
 * machine is shared, so besides raw throughput the benches report work done
 * per CPU second of the server, which other load on the core does not skew.
 */
export function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

export interface Child { proc: ChildProcess, info: Record<string, number>, stop: () => Promise<void> }

/** Starts `cmd args` pinned to `core`, waits for its first stdout line (JSON) when `json`. */
export async function pinned (core: number, cmd: string, args: string[], json = true): Promise<Child> {
  const proc = spawn('taskset', ['-c', String(core), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill('SIGTERM')
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
    await gone
    clearTimeout(t)
  }
  if (!json) return { proc, info: {}, stop }
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! })
    rl.once('line', (l) => { rl.close(); resolve(l) })
    proc.once('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${stderr}`)))
  })
  return { proc, info: JSON.parse(line) as Record<string, number>, stop }
}

export const TS_NODE = ['--import=@tapjs/typescript/import']
