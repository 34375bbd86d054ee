// Helpers shared by the lookup benchmarks: pinned child processes, medians.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { readFileSync } from 'node:fs'
import { connect } from 'nats'
import { encodeJson, openBucket, Buckets } from '../src/bus/index.js'
import type { EndpointRecord } from '../src/core/index.js'

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

export const TS_NODE = ['--import=tsx']

/** `n` copies of `cmd args` pinned to `core`; each joins `children` as soon as it runs, so a later failure still stops it. */
export async function pinnedMany (n: number, core: number, cmd: string, args: string[], children: Child[]): Promise<Child[]> {
  const started: Child[] = []
  for (let i = 0; i < n; i++) {
    const c = await pinned(core, cmd, args)
    children.push(c)
    started.push(c)
  }
  return started
}

/** Writes endpoint records into the endpoints bucket of the NATS at `url`. */
export async function putEndpoints (url: string, recs: EndpointRecord[]): Promise<void> {
  const nc = await connect({ servers: url })
  try {
    const kv = await openBucket(nc, Buckets.endpoints)
    for (const r of recs) await kv.put(`${r.service}.${r.containerId}`, encodeJson(r))
  } finally { await nc.close() }
}
