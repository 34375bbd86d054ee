// The churn test's lean load: wrk (C, LuaJIT hooks) instead of a Node client
// that records every sample, so the client side is not what limits the
// request rate. One wrk process per client kind and phase; wrk never retries.
// Loopback only (nginx's port), bounded by -d and stopped with SIGINT, after
// which wrk prints its summary and the script's DGRESULT line.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'churn-wrk.lua')
const WRK = '/usr/bin/wrk'

export type WrkKind = 'get' | 'post' | 'close'

export interface WrkResult {
  requests: number
  ok: number
  non2xx: number
  /** Socket errors (wrk has no per-request hook for them: no times). */
  socketErrors: number
  ms: number
  p50: number
  p99: number
  max: number
  /** Non-2xx answers: [epoch ms, status] (the first 2,000 per thread). */
  fails: Array<[number, number]>
}

export interface WrkRun {
  /** Ends the run (SIGINT: wrk stops, prints its summary) and returns it. */
  stop: () => Promise<WrkResult>
  done: Promise<WrkResult>
  kill: () => void
}

/** Starts wrk against 127.0.0.1:port for at most maxSeconds. */
export function runWrk (port: number, host: string, kind: WrkKind, conns: number, maxSeconds: number): WrkRun {
  const child = spawn(WRK, ['-t1', `-c${conns}`, `-d${maxSeconds}s`, '--timeout', '10s', '-s', SCRIPT,
    `http://127.0.0.1:${port}/`, '--', host, kind], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
  const done = new Promise<WrkResult>((resolve, reject) => {
    child.on('error', reject)
    // 'close', not 'exit': stdout may still hold the summary when the process exits
    child.on('close', (code, sig) => {
      const line = /^DGRESULT (.*)$/m.exec(out)
      if (line == null) { reject(new Error(`wrk ${kind} ended (${code ?? sig}) without a result: ${err}${out}`)); return }
      resolve(parse(line[1]))
    })
  })
  return {
    done,
    stop: async () => { if (child.exitCode == null) child.kill('SIGINT'); return await done },
    kill: () => { if (child.exitCode == null) child.kill('SIGKILL') },
  }
}

function parse (json: string): WrkResult {
  const r = JSON.parse(json) as Record<string, number> & { fails: string[] }
  return {
    requests: r.requests, ok: r.ok, non2xx: r.non2xx,
    socketErrors: r.connect + r.read + r.write + r.timeout,
    ms: r.durationUs / 1000, p50: r.p50Us / 1000, p99: r.p99Us / 1000, max: r.maxUs / 1000,
    fails: r.fails.map((f) => { const [at, status] = f.split(':'); return [Number(at), Number(status)] }),
  }
}
