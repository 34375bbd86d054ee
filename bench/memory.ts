// Memory by size (issue 20): ONE nats-server (CLUSTER=1: the 3-node R3
// cluster), one registry and one lua-mode renderer with its own nginx (the
// CLI from dist/ as child processes: bench/scale/system.ts), and simulated
// agents (bench/scale/fleet.ts) filling the endpoint table in steps. At each
// step, once the KV table and the nginx dict equal the generator's truth:
//   filled   RSS and V8 heap used/total as they are;
//   changes  the highest RSS / heap used seen (sampled every second) while
//            RATE endpoint events/s run for CHANGES seconds;
//   live     after the changes settled: a full GC in the process, then heap
//            used (what is really held) and RSS.
// "Asked the process": bench/memory-probe.mjs is loaded into each driftgate
// process (NODE_OPTIONS --import) and answers on a unix socket.
//   npm run build && npm run bench -- bench/memory.ts
//   env: STEPS=10000,25000,50000 HOSTS=1000 SERVICES=(last step / 10)
//        RATE=500 CHANGES=30 (s per step) SETTLE=300 (s) CLUSTER=1
//        BASE=dist-base/src/cli/main.js   the same first with another build, side by side
//        OPTS="--max-semi-space-size=8"    node options for this build's processes (BASE_OPTS: the base's)
//        CLI=path LABEL=name               run another build than dist/ as the main one (one build per locked run)
//        RUNS="base|dist-base/src/cli/main.js|;semi16||--max-semi-space-size=16"   any list of label|cli|node options
//             (NAME=value words in the options are environment, e.g. MALLOC_ARENA_MAX=2)
//        SNAP=dir                          heap snapshots of both processes at the last step
//        FILLPROF=dir                      the registry's allocations during the last step's fill (sampling heap
//                                          profile, dead objects counted): bench/heap-prof-summary.mjs reads it
//        FILLSNAP=s                        a heap snapshot of the registry s seconds into the last fill (into SNAP or /tmp)
// The fill is sampled every second too (its peak heap used), and each process's
// peak RSS (VmHWM, the kernel's high-water mark) is reported: the fill sets it.
import { mkdirSync, mkdtempSync } from 'node:fs'
import { createConnection } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { openBucket, Buckets } from '../src/bus/index.js'
import { Fleet, nowMs } from './scale/fleet.js'
import { Measure } from './scale/measure.js'
import { converge } from './scale/run.js'
import { procStats, startSystem, type System } from './scale/system.js'

const env = process.env
const STEPS = (env.STEPS ?? '10000,25000,50000').split(',').map(Number)
const HOSTS = Number(env.HOSTS ?? 1000)
const SERVICES = Number(env.SERVICES ?? Math.max(1, Math.round(STEPS[STEPS.length - 1] / 10)))
const RATE = Number(env.RATE ?? 500)
const CHANGES_S = Number(env.CHANGES ?? 30)
const SETTLE_S = Number(env.SETTLE ?? 300)
const CLUSTER = env.CLUSTER === '1'
const PROBE = resolve(import.meta.dirname, 'memory-probe.mjs')
const MB = 1024 * 1024

interface Probe { rss: number, heapUsed: number, heapTotal: number, external: number, arrayBuffers: number, malloced: number, spaces: Record<string, { used: number, size: number }> }
interface Point { rssMb: number, heapUsedMb: number, heapTotalMb: number, externalMb: number, newSpaceMb: number }
interface ProcRow { filled: Point, changes: Point, live: Point }
interface StepRow { endpoints: number, fillS: number, fillPeak: { registry: Point, renderer: Point }, hwmMb: { registry: number, renderer: number }, registry: ProcRow, renderer: ProcRow, natsMb: number, natsPeakMb: number, /** CPU µs per event during the changes */ cpuUs: { registry: number, renderer: number, nats: number } }
interface Run { label: string, base: { registry: Point, renderer: Point }, steps: StepRow[] }

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** One command to a process's probe (see memory-probe.mjs). */
async function ask (dir: string, pid: number, cmd: string): Promise<Probe> {
  return await new Promise((resolve, reject) => {
    const sock = createConnection(join(dir, `${pid}.sock`))
    let text = ''
    sock.setEncoding('utf8')
    sock.on('connect', () => sock.write(`${cmd}\n`))
    sock.on('data', (c: string) => { text += c })
    sock.on('end', () => { try { resolve(JSON.parse(text) as Probe) } catch (err) { reject(err) } })
    sock.on('error', reject)
    sock.setTimeout(120_000, () => sock.destroy(new Error(`probe ${pid} ${cmd}: timeout`)))
  })
}
const point = (p: Probe): Point => ({ rssMb: p.rss / MB, heapUsedMb: p.heapUsed / MB, heapTotalMb: p.heapTotal / MB, externalMb: (p.external + p.malloced) / MB, newSpaceMb: (p.spaces.new_space?.size ?? 0) / MB })
const maxPoint = (a: Point, b: Point): Point => Object.fromEntries(Object.keys(a).map((k) => [k, Math.max(a[k as keyof Point], b[k as keyof Point])])) as unknown as Point
const ZERO: Point = { rssMb: 0, heapUsedMb: 0, heapTotalMb: 0, externalMb: 0, newSpaceMb: 0 }
const f0 = (x: number): string => x.toFixed(0)

async function runOne (label: string, cli: string | undefined, opts: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'dg-mem-'))
  // NAME=value words are environment (e.g. MALLOC_ARENA_MAX=2), the rest node options
  const words = opts.split(/\s+/).filter((w) => w !== '')
  const envWords = Object.fromEntries(words.filter((w) => /^[A-Z][A-Z0-9_]*=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]))
  const nodeOpts = words.filter((w) => !/^[A-Z][A-Z0-9_]*=/.test(w)).join(' ')
  const childEnv: Record<string, string> = { ...envWords, DG_MEMPROBE_DIR: dir, NODE_OPTIONS: `--import=${PROBE} ${nodeOpts}`.trim() }
  if (cli !== undefined) childEnv.DG_CLI = resolve(cli)
  console.log(`\n== ${label}: ${cli ?? 'dist/'} NODE_OPTIONS="${childEnv.NODE_OPTIONS}"${Object.keys(envWords).length > 0 ? ` ${JSON.stringify(envWords)}` : ''}`)
  const sys = await startSystem({ registries: 1, renderers: 1, nodes: CLUSTER ? 3 : 1, env: childEnv })
  const conns: NatsConnection[] = []
  let fleet: Fleet | undefined
  let m: Measure | undefined
  try {
    const pids = { registry: sys.registries[0].pid, renderer: sys.renderers[0].child.pid }
    const probe = async (which: 'registry' | 'renderer', cmd = 'stats'): Promise<Point> => point(await ask(dir, pids[which], cmd))
    for (let i = 0; i < 3; i++) conns.push(await connect({ servers: sys.cluster.urls, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 }))
    m = new Measure(sys.nc, await openBucket(sys.nc, Buckets.endpoints))
    await m.start([])
    const f = fleet = new Fleet(conns, { hosts: HOSTS, services: SERVICES, heartbeatMs: 2000, snapshotMs: 30_000, onSent: () => {} })
    // wait for both processes to answer (the renderer starts after its nginx)
    await waitProbe(async () => { await probe('registry'); await probe('renderer') })
    const base = { registry: await probe('registry', 'gc'), renderer: await probe('renderer', 'gc') }
    console.log(`  empty (after GC): registry RSS ${f0(base.registry.rssMb)} MB heap ${f0(base.registry.heapUsedMb)} MB; renderer RSS ${f0(base.renderer.rssMb)} MB heap ${f0(base.renderer.heapUsedMb)} MB`)
    const steps: StepRow[] = []
    let have = 0
    for (const [i, step] of STEPS.entries()) {
      const t0 = nowMs()
      f.populate(step - have); have = step
      const last = i === STEPS.length - 1
      if (last && env.FILLPROF !== undefined) await ask(dir, pids.registry, 'hpstart')
      f.announceAll()
      if (i === 0) f.startTimers()
      // the fill's own peak, sampled every second while it converges
      let fillPeak = { registry: ZERO, renderer: ZERO }
      let sampling = true
      let fillSnap = last && env.FILLSNAP !== undefined
      const sampler = (async () => {
        while (sampling) {
          try { fillPeak = { registry: maxPoint(fillPeak.registry, await probe('registry')), renderer: maxPoint(fillPeak.renderer, await probe('renderer')) } } catch { /* busy: next second */ }
          if (fillSnap && nowMs() - t0 >= Number(env.FILLSNAP) * 1000) {
            fillSnap = false
            const out = resolve(env.SNAP ?? tmpdir(), `${label}-registry-fill-${step}.heapsnapshot`)
            mkdirSync(env.SNAP ?? tmpdir(), { recursive: true })
            await ask(dir, pids.registry, `snap ${out}`)
            console.log(`    heap snapshot during the fill (${((nowMs() - t0) / 1000).toFixed(1)} s in): ${out}`)
          }
          await sleep(1000)
        }
      })()
      const ok = await converge(sys, m, f, SETTLE_S)
      const fillS = (nowMs() - t0) / 1000
      sampling = false
      await sampler
      if (last && env.FILLPROF !== undefined) {
        mkdirSync(env.FILLPROF, { recursive: true })
        const out = resolve(env.FILLPROF, `${label}-registry-fill-${step}.heapprofile`)
        await ask(dir, pids.registry, `hpstop ${out}`)
        console.log(`    allocation profile of the fill: ${out} (node bench/heap-prof-summary.mjs ${out} 25 ${step - (STEPS[i - 1] ?? 0)})`)
      }
      const filled = { registry: await probe('registry'), renderer: await probe('renderer') }
      const nats = () => sys.cluster.nodes.map((n) => procStats(n.pid))
      // changes, sampled every second
      let peak = { registry: ZERO, renderer: ZERO }
      let natsMb = 0
      const cpu0 = { registry: procStats(pids.registry).cpu, renderer: procStats(pids.renderer).cpu, nats: natsCpu(sys) }
      const start = nowMs()
      let events = 0
      let nextSample = start
      while (nowMs() - start < CHANGES_S * 1000) {
        const due = Math.floor(((nowMs() - start) / 1000) * RATE)
        for (let g = 0; events < due && g < 10 * RATE; g++) events += f.change()
        if (nowMs() >= nextSample) {
          nextSample += 1000
          peak = { registry: maxPoint(peak.registry, await probe('registry')), renderer: maxPoint(peak.renderer, await probe('renderer')) }
          natsMb = Math.max(natsMb, ...nats().map((s) => s.rssMb))
        }
        await sleep(10)
      }
      await f.flush()
      const settled = await converge(sys, m, f, SETTLE_S)
      const us = (cpu: number): number => cpu * 1e6 / Math.max(1, events)
      const cpuUs = { registry: us(procStats(pids.registry).cpu - cpu0.registry), renderer: us(procStats(pids.renderer).cpu - cpu0.renderer), nats: us(natsCpu(sys) - cpu0.nats) }
      const live = { registry: await probe('registry', 'gc'), renderer: await probe('renderer', 'gc') }
      const row: StepRow = {
        endpoints: step, fillS: ok === ok ? fillS : NaN, fillPeak,
        hwmMb: { registry: procStats(pids.registry).peakMb, renderer: procStats(pids.renderer).peakMb },
        registry: { filled: filled.registry, changes: peak.registry, live: live.registry },
        renderer: { filled: filled.renderer, changes: peak.renderer, live: live.renderer },
        natsMb, natsPeakMb: Math.max(...nats().map((s) => s.peakMb)), cpuUs,
      }
      steps.push(row)
      let tombstones = 0
      for (const r of m.table.values()) if (r.removed === true) tombstones++
      console.log(`  ${step} endpoints: filled in ${fillS.toFixed(1)} s${ok === ok ? '' : ' (NOT converged)'}; ${events} events in ${CHANGES_S} s, settled ${settled.toFixed(1)} s after; ` +
        `KV table ${m.table.size} records of which ${tombstones} tombstones; load ${loadavg()[0].toFixed(1)}`)
      for (const p of ['registry', 'renderer'] as const) console.log(`    ${p}: ${procLine(row[p], base[p], step)}; during the fill: RSS ≤ ${f0(fillPeak[p].rssMb)} MB, heap used ≤ ${f0(fillPeak[p].heapUsedMb)} MB; peak RSS (VmHWM) ${f0(row.hwmMb[p])} MB`)
      console.log(`    nats: RSS ${f0(natsMb)} MB during changes (peak ${f0(row.natsPeakMb)} MB); CPU per event (changes until settled): registry ${f0(cpuUs.registry)} µs, renderer ${f0(cpuUs.renderer)} µs, nats-server ${f0(cpuUs.nats)} µs`)
      if (env.SNAP !== undefined && i === STEPS.length - 1) {
        mkdirSync(env.SNAP, { recursive: true })
        for (const p of ['registry', 'renderer'] as const) {
          const out = resolve(env.SNAP, `${label}-${p}-${step}.heapsnapshot`)
          await ask(dir, pids[p], `snap ${out}`)
          console.log(`    heap snapshot: ${out}`)
        }
      }
    }
    return { label, base, steps }
  } finally {
    fleet?.stop()
    m?.close()
    await Promise.all(conns.map(async (c) => { await c.close() }))
    await sys.stop()
  }
}

const natsCpu = (sys: System): number => sys.cluster.nodes.reduce((sum, n) => sum + procStats(n.pid).cpu, 0)

async function waitProbe (fn: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try { await fn(); return } catch (err) { if (i > 600) throw err }
    await sleep(100)
  }
}

/** filled / peak during changes / live after GC, and bytes of live heap and of RSS per endpoint over the empty process. */
function procLine (r: ProcRow, base: Point, n: number): string {
  const per = (x: number, b: number): string => f0((x - b) * MB / n)
  return `RSS ${f0(r.filled.rssMb)} / ${f0(r.changes.rssMb)} / ${f0(r.live.rssMb)} MB, heap used ${f0(r.filled.heapUsedMb)} / ${f0(r.changes.heapUsedMb)} / ${f0(r.live.heapUsedMb)} MB ` +
    `(total ${f0(r.filled.heapTotalMb)} / ${f0(r.changes.heapTotalMb)} / ${f0(r.live.heapTotalMb)}), new space ${f0(r.filled.newSpaceMb)} / ${f0(r.changes.newSpaceMb)} MB, external+malloc ${f0(r.live.externalMb)} MB (filled / changes peak / live after GC); ` +
    `per endpoint: live heap ${per(r.live.heapUsedMb, base.heapUsedMb)} B, RSS ${per(r.live.rssMb, base.rssMb)} B`
}

console.log(`bench/memory: steps ${STEPS.join(',')}, ${HOSTS} hosts, ${SERVICES} services, ${RATE} events/s for ${CHANGES_S} s per step, ${CLUSTER ? '3-node cluster (R3)' : 'one nats-server'}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`)
// RUNS="label|cli|node options;…" (empty cli = dist/), else BASE (if set) then this build
const plan = env.RUNS !== undefined
  ? env.RUNS.split(';').filter((r) => r.trim() !== '').map((r) => { const [label, cli, opts] = r.split('|'); return { label, cli: cli === '' ? undefined : cli, opts: opts ?? '' } })
  : [...(env.BASE !== undefined ? [{ label: 'base', cli: env.BASE, opts: env.BASE_OPTS ?? '' }] : []), { label: env.LABEL ?? 'this', cli: env.CLI, opts: env.OPTS ?? '' }]
const runs: Run[] = []
for (const r of plan) runs.push(await runOne(r.label, r.cli, r.opts))

console.log('\n== side by side (RSS / heap used, MB: filled, peak during changes, live after GC)')
console.log('| endpoints | build | registry RSS | registry heap used | reg. fill heap peak | reg. peak RSS (HWM) | renderer RSS | renderer heap used | rend. peak RSS (HWM) | NATS RSS | CPU µs/event reg / rend | fill s |')
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
for (const [i, step] of STEPS.entries()) {
  for (const r of runs) {
    const s = r.steps[i]
    if (s === undefined) continue
    const cell = (p: ProcRow, k: 'rssMb' | 'heapUsedMb'): string => `${f0(p.filled[k])} / ${f0(p.changes[k])} / ${f0(p.live[k])}`
    console.log(`| ${step} | ${r.label} | ${cell(s.registry, 'rssMb')} | ${cell(s.registry, 'heapUsedMb')} | ${f0(s.fillPeak.registry.heapUsedMb)} | ${f0(s.hwmMb.registry)} | ${cell(s.renderer, 'rssMb')} | ${cell(s.renderer, 'heapUsedMb')} | ${f0(s.hwmMb.renderer)} | ${f0(s.natsMb)} | ${f0(s.cpuUs.registry)} / ${f0(s.cpuUs.renderer)} | ${s.fillS.toFixed(1)} |`)
  }
}
console.log(`load average now ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
