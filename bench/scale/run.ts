// bench/scale's phases: start the system, fill it (in steps, RSS per step),
// a quiet phase (KV write rate with no change: heartbeats and snapshots
// only), the change phase (C events/s, silent hosts, faults), then settle
// and compare every table with the generator's truth.
import { connect, type NatsConnection } from 'nats'
import { openBucket, Buckets } from '../../src/bus/index.js'
import { Fleet, nowMs } from './fleet.js'
import { Measure, diffSets, dictSets, expectedSets, httpGet } from './measure.js'
import { procStats, startSystem, type System } from './system.js'

export interface ScaleOptions {
  hosts: number
  endpoints: number
  services: number
  rate: number
  durationS: number
  quietS: number
  heartbeatMs: number
  snapshotMs: number
  /** Fill in steps (endpoint counts, the last = endpoints): RSS is sampled at each. */
  steps: number[]
  silentFraction: number
  fault: 'none' | 'nats' | 'registry' | 'both'
  conns: number
  registries: number
  renderers: number
  settleTimeoutS: number
  log: (line: string) => void
  /** Called once settled, before teardown (tests: ask the live processes something). */
  onSettled?: (ctx: { nc: NatsConnection, renderers: string[], truth: Map<string, { containerId: string }> }) => Promise<void>
}

export interface ProcSample { name: string, rssMb: number, peakMb: number, cpuPct: number }
export interface ScaleResult {
  fillS: number[]
  memory: Array<{ endpoints: number, procs: ProcSample[] }>
  quiet: { endpointWritesPerS: number, hostWritesPerS: number, seconds: number }
  events: number
  achievedRate: number
  latency: ReturnType<Measure['latencies']>
  stages: ReturnType<Measure['stages']>
  procs: ProcSample[]
  nats: ProcSample[]
  faults: Array<{ what: string, at: number, until: number }>
  settleS: number
  tableDiff: string[]
  dictDiffs: Array<{ renderer: string, diff: string[] }>
  publishFailures: number
  maxLagMs: number
  /** Processes that exited on their own and were started again (not the planned kill). */
  restarts: Array<{ name: string, restarts: number }>
  /** Per registry, since its last start: endpoint changes written and snapshots applied (its /metrics). */
  applied: Array<{ name: string, events: number, snapshots: number }>
  /** Published events that no KV write holds at the end (must be 0). */
  unwritten: number
  /** Per renderer: announcements and dict generations the measure saw. */
  coverage: string
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function tableDiff (m: Measure, fleet: Fleet): string[] {
  const truth = fleet.truth()
  const out: string[] = []
  for (const [k, ep] of truth) {
    const r = m.table.get(k)
    if (r == null || r.removed === true || r.ip !== ep.ip || r.host !== ep.host) out.push(`${k}: want ${ep.host} ${ep.ip}, got ${r == null ? 'absent' : r.removed === true ? 'tombstone' : `${r.host} ${r.ip}`}`)
  }
  for (const [k, r] of m.table) if (r.removed !== true && !truth.has(k)) out.push(`${k}: live in KV, not in truth`)
  return out.length > 5 ? [...out.slice(0, 5), `… ${out.length - 5} more`] : out
}

async function dictDiffs (sys: System, fleet: Fleet): Promise<Array<{ renderer: string, diff: string[] }>> {
  const want = expectedSets(fleet.truth())
  return await Promise.all(sys.renderers.map(async (r) => ({ renderer: r.id, diff: diffSets(want, await dictSets(r.statusPort).catch(() => new Map())) })))
}

/** Waits until KV and every dict equal the truth; seconds taken, or NaN on timeout. */
export async function converge (sys: System, m: Measure, fleet: Fleet, timeoutS: number): Promise<number> {
  const t0 = nowMs()
  while (nowMs() - t0 < timeoutS * 1000) {
    if (tableDiff(m, fleet).length === 0 && (await dictDiffs(sys, fleet)).every((d) => d.diff.length === 0)) return (nowMs() - t0) / 1000
    await sleep(fleet.hosts.length > 100 ? 2000 : 250)
  }
  return NaN
}

function sample (sys: System, from: Map<number, { cpu: number, at: number }>): ProcSample[] {
  const procs = [...sys.registries.map((c) => ({ name: c.name, pid: c.pid })), ...sys.renderers.map((r) => ({ name: r.child.name, pid: r.child.pid }))]
  return procs.map(({ name, pid }) => sampleOne(name, pid, from))
}
function sampleOne (name: string, pid: number, from: Map<number, { cpu: number, at: number }>): ProcSample {
  const s = procStats(pid)
  const f = from.get(pid)
  const cpuPct = f === undefined ? NaN : 100 * (s.cpu - f.cpu) / ((nowMs() - f.at) / 1000)
  return { name, rssMb: s.rssMb, peakMb: s.peakMb, cpuPct }
}
function cpuMark (pids: number[]): Map<number, { cpu: number, at: number }> {
  return new Map(pids.map((p) => [p, { cpu: procStats(p).cpu, at: nowMs() }]))
}

async function streamSeq (nc: NatsConnection, stream: string): Promise<number> {
  return (await (await nc.jetstreamManager()).streams.info(stream)).state.last_seq
}

export async function runScale (o: ScaleOptions): Promise<ScaleResult> {
  const sys = await startSystem({ registries: o.registries, renderers: o.renderers })
  const conns: NatsConnection[] = []
  let measure: Measure | undefined
  let fleet: Fleet | undefined
  try {
    for (let i = 0; i < o.conns; i++) {
      conns.push(await connect({ servers: [...sys.cluster.urls.slice(i % 3), ...sys.cluster.urls.slice(0, i % 3)], noRandomize: true, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 }))
    }
    const m = measure = new Measure(sys.nc, await openBucket(sys.nc, Buckets.endpoints))
    await m.start(sys.renderers.map((r) => r.statusPort))
    const f = fleet = new Fleet(conns, { hosts: o.hosts, services: o.services, heartbeatMs: o.heartbeatMs, snapshotMs: o.snapshotMs, onSent: (s) => { m.onSent(s) } })
    o.log(`system up (logs in ${sys.logDir}); filling ${o.steps.join(' → ')} endpoints over ${o.hosts} hosts, ${o.services} services`)

    const fillS: number[] = []
    const memory: ScaleResult['memory'] = []
    let have = 0
    for (const step of o.steps) {
      const t0 = nowMs()
      f.populate(step - have); have = step
      f.announceAll()
      if (fillS.length === 0) f.startTimers()
      const s = await converge(sys, m, f, o.settleTimeoutS)
      fillS.push(s === s ? (nowMs() - t0) / 1000 : NaN)
      memory.push({ endpoints: step, procs: sample(sys, new Map()) })
      o.log(`  ${step} endpoints in KV and both dicts after ${((nowMs() - t0) / 1000).toFixed(1)} s${s === s ? '' : ' (NOT converged)'}; ` +
        memory[memory.length - 1].procs.map((p) => `${p.name} ${p.rssMb.toFixed(0)} MB`).join(', '))
    }

    // quiet: no changes; heartbeats and snapshots go on
    const w0 = m.writes; const h0 = await streamSeq(sys.nc, 'KV_driftgate_hosts'); const q0 = nowMs()
    await sleep(o.quietS * 1000)
    const qs = (nowMs() - q0) / 1000
    const quiet = { endpointWritesPerS: (m.writes - w0) / qs, hostWritesPerS: (await streamSeq(sys.nc, 'KV_driftgate_hosts') - h0) / qs, seconds: qs }
    o.log(`quiet ${qs.toFixed(0)} s: endpoint KV writes ${quiet.endpointWritesPerS.toFixed(2)}/s, host KV writes ${quiet.hostWritesPerS.toFixed(1)}/s`)

    // changes
    const pids = [...sys.registries.map((c) => c.pid), ...sys.renderers.map((r) => r.child.pid), ...sys.cluster.nodes.map((n) => n.pid)]
    const marks = cpuMark(pids)
    f.tag = 'change'
    const faults: ScaleResult['faults'] = []
    const start = nowMs()
    const end = start + o.durationS * 1000
    let events = 0
    const silent = new Map<number, number>() // host index → wake time
    let nextSilence = start + 5000
    const plan: Array<{ at: number, run: () => Promise<void> }> = []
    const victim = sys.registries[Math.min(1, sys.registries.length - 1)]
    if (o.fault === 'nats' || o.fault === 'both') {
      const node = sys.cluster.nodes[1]
      const at = start + o.durationS * 1000 * 0.25
      plan.push({ at, run: async () => { await node.stop(); o.log(`  +${((nowMs() - start) / 1000).toFixed(0)} s: NATS node ${node.name} killed`); faults.push({ what: `NATS node ${node.name} killed, restarted after 15 s`, at: nowMs(), until: 0 }) } })
      plan.push({ at: at + 15_000, run: async () => { await node.restart(); faults[faults.length - 1].until = nowMs(); o.log(`  +${((nowMs() - start) / 1000).toFixed(0)} s: NATS node ${node.name} back`) } })
    }
    if (o.fault === 'registry' || o.fault === 'both') {
      const at = start + o.durationS * 1000 * 0.65
      plan.push({ at, run: async () => { await victim.stop('SIGKILL'); faults.push({ what: `${victim.name} SIGKILLed, restarted after 10 s`, at: nowMs(), until: 0 }); o.log(`  +${((nowMs() - start) / 1000).toFixed(0)} s: ${victim.name} killed`) } })
      plan.push({ at: at + 10_000, run: async () => { victim.start(); faults[faults.length - 1].until = nowMs(); o.log(`  +${((nowMs() - start) / 1000).toFixed(0)} s: ${victim.name} restarted`) } })
    }
    while (nowMs() < end) {
      const now = nowMs()
      const due = Math.floor(((now - start) / 1000) * o.rate)
      for (let guard = 0; events < due && guard < 10 * o.rate; guard++) events += f.change()
      for (const [i, wake] of silent) if (now >= wake) { f.wake(f.hosts[i]); silent.delete(i) }
      if (o.silentFraction > 0 && now >= nextSilence) {
        nextSilence = now + 10_000
        const n = Math.max(1, Math.round(o.hosts * o.silentFraction))
        for (let k = 0; k < n; k++) {
          const i = Math.floor(Math.random() * o.hosts)
          if (!silent.has(i)) { f.silence(f.hosts[i]); silent.set(i, now + 8000) }
        }
      }
      while (plan.length > 0 && plan[0].at <= now) await (plan.shift() as { run: () => Promise<void> }).run()
      await sleep(10)
    }
    for (const p of plan) await p.run() // a fault planned past the end still runs (short runs)
    for (const i of silent.keys()) f.wake(f.hosts[i])
    const changeS = (nowMs() - start) / 1000
    const procs = sample(sys, marks)
    const nats = sys.cluster.nodes.map((n) => sampleOne(`nats ${n.name}`, n.pid, marks))
    await f.flush()
    const settleS = await converge(sys, m, f, o.settleTimeoutS)
    o.log(`changes: ${events} events in ${changeS.toFixed(1)} s; settled ${settleS.toFixed(1)} s after the last`)
    o.log(`measured: ${m.coverage(sys.renderers)}`)
    const latency = m.latencies(sys.renderers, (s) => s.tag === 'change')
    const stages = m.stages(sys.renderers, (s) => s.tag === 'change')
    await o.onSettled?.({ nc: sys.nc, renderers: sys.renderers.map((r) => r.id), truth: f.truth() })
    return {
      fillS, memory, quiet, events, achievedRate: events / changeS, latency, stages, procs, nats, faults, settleS,
      tableDiff: tableDiff(m, f), dictDiffs: await dictDiffs(sys, f), publishFailures: f.failures, maxLagMs: m.maxLagMs,
      unwritten: m.unwritten(), coverage: m.coverage(sys.renderers),
      restarts: [...sys.registries, ...sys.renderers.map((r) => r.child)].map((c) => ({ name: c.name, restarts: c.restarts })),
      applied: await Promise.all(sys.registries.map(async (c) => ({ name: c.name, ...await appliedBy(c.httpPort) }))),
    }
  } finally {
    fleet?.stop()
    measure?.close()
    await Promise.all(conns.map(async (c) => { await c.close() }))
    await sys.stop()
  }
}

/** What one registry applied, from its /metrics (NaN when it does not answer). */
async function appliedBy (port: number | undefined): Promise<{ events: number, snapshots: number }> {
  const text = port === undefined ? '' : await httpGet(port, '/metrics').catch(() => '')
  const sum = (name: string): number => {
    const xs = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => Number(m[1]))
    return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0)
  }
  return { events: sum('driftgate_registry_events_applied_total'), snapshots: sum('driftgate_registry_snapshots_applied_total') }
}
