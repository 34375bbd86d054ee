// The churn test's clients, per phase (steady, churn). lua mode: wrk (lean,
// never retries; see wrk-load.ts). file mode: the Node client
// (load-client.mjs), whose keep-alive GETs retry once on an idle connection
// a reload closed, which wrk cannot do.
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runWrk, type WrkKind, type WrkResult, type WrkRun } from './wrk-load.js'

const here = dirname(fileURLToPath(import.meta.url))
const HOST = 'web.example.com'

/** A failed request: when (null: a wrk socket error, which has no time) and what. */
export interface Failure { at: number | null, what: string }
export interface Phase { requests: number, ms: number, retried: number, p50: number, p99: number, max: number, failures: Failure[] }
export interface ClientResult { client: string, steady: Phase, churn: Phase }
export interface Load {
  /** Runs the steady phase (its clients keep running into the churn). */
  steady: () => Promise<void>
  /** Ends the churn phase and returns every client's two phases. */
  finish: (churnStart: number, churnEnd: number) => Promise<ClientResult[]>
}

export function line (p: Phase): string {
  return `${p.requests} requests (${(p.requests / Math.max(1, p.ms / 1000)).toFixed(0)}/s), ${p.failures.length} failed, ` +
    `${p.retried} retried after nginx closed an idle keep-alive connection, ` +
    `p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms, max ${p.max.toFixed(1)} ms`
}

function fromWrk (r: WrkResult): Phase {
  const failures: Failure[] = r.fails.map(([at, status]) => ({ at, what: `status ${status}` }))
  // fails is capped per thread: the count is what decides
  for (let i = failures.length; i < r.non2xx; i++) failures.push({ at: null, what: 'non-2xx (beyond the kept list)' })
  for (let i = 0; i < r.socketErrors; i++) failures.push({ at: null, what: 'socket error (wrk summary)' })
  return { requests: r.requests, ms: r.ms, retried: 0, p50: r.p50, p99: r.p99, max: r.max, failures }
}

/** wrk: keep-alive GETs (conns), POSTs (conns/2), one connection per request (conns/4). */
export function wrkLoad (t: Test, port: number, conns: number, steadyMs: number): Load {
  const kinds: Array<[string, WrkKind, number]> = [['noretry', 'get', conns], ['post', 'post', Math.max(1, conns / 2)], ['close', 'close', Math.max(1, conns / 4)]]
  const runs: WrkRun[] = []
  t.teardown(() => { for (const r of runs) r.kill() })
  let steady: WrkResult[] = []
  let churn: WrkRun[] = []
  return {
    steady: async () => {
      const s = kinds.map(([, kind, c]) => runWrk(port, HOST, kind, c, Math.ceil(steadyMs / 1000)))
      runs.push(...s)
      steady = await Promise.all(s.map(async (r) => await r.done))
      // bounded (900 s) in case the test dies before finish()
      churn = kinds.map(([, kind, c]) => runWrk(port, HOST, kind, c, 900))
      runs.push(...churn)
    },
    finish: async () => {
      const ends = await Promise.all(churn.map(async (r) => await r.stop()))
      return kinds.map(([client], i) => ({ client, steady: fromWrk(steady[i]), churn: fromWrk(ends[i]) }))
    },
  }
}

type Sample = [number, number, number, number, string | null]

function percentile (values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

function fromSamples (samples: Sample[], ms: number): Phase {
  const lat = samples.map((s) => s[1])
  const failures = samples.filter((s) => s[2] < 200 || s[2] > 299).map((s) => ({ at: s[0], what: `status ${s[2]} ${s[4] ?? ''}` }))
  // Not Math.max(...lat): spreading 120k+ samples overflows the call stack.
  return {
    requests: samples.length, ms, retried: samples.filter((s) => s[3] === 1).length,
    p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: lat.reduce((m, x) => (x > m ? x : m), 0), failures,
  }
}

/** The Node client: keep-alive GETs retried once on a closed idle connection (conns), one connection per request (conns/4). */
export function nodeLoad (t: Test, port: number, conns: number, steadyMs: number): Load {
  const clients = [['keepalive', conns], ['close', Math.max(1, conns / 4)]] as const
  const loads = clients.map(([mode, c]) => {
    const child = spawn(process.execPath, [join(here, 'load-client.mjs'), String(port), HOST, String(c), '900000', mode], { stdio: ['pipe', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
    const done = new Promise<Sample[]>((resolve) => child.on('exit', () => {
      resolve(text === '' ? [] : (JSON.parse(text) as { samples: Sample[] }).samples)
    }))
    t.teardown(() => { if (child.exitCode == null) child.kill('SIGKILL') })
    return { mode, child, done }
  })
  return {
    steady: async () => { await new Promise((resolve) => setTimeout(resolve, steadyMs)) },
    finish: async (churnStart, churnEnd) => {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      for (const l of loads) l.child.stdin.end()
      return await Promise.all(loads.map(async (l) => {
        const samples = await l.done
        // the second after the churn counts for failures, as before
        const steady = samples.filter((s) => s[0] < churnStart)
        const churn = samples.filter((s) => s[0] >= churnStart)
        const inChurn = fromSamples(churn.filter((s) => s[0] <= churnEnd), churnEnd - churnStart)
        return { client: l.mode, steady: fromSamples(steady, steadyMs), churn: { ...inChurn, failures: fromSamples(churn, 0).failures } }
      }))
    },
  }
}
