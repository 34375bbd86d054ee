// driftgate at fleet size: a 3-node JetStream cluster (R3 stream and buckets),
// 3 registry instances and 2 lua-mode renderers (child processes, each
// renderer with its own nginx), and N simulated agents (bench/scale/fleet.ts)
// holding E endpoints over S services, then C endpoint events/s. Prints
// event → nginx shared dict latency (method: bench/scale/measure.ts), RSS and
// CPU per process, NATS memory, the quiet-time KV write rate, and whether the
// KV table and every dict equal the generator's truth.
//   npm run build && npm run bench -- bench/scale.ts              (small: 20 hosts, 1,000 endpoints)
//   npm run bench -- bench/scale.ts --full                        (1,000 hosts, 50,000 endpoints, 1,000/s, 120 s)
//   flags: --hosts --endpoints --services --rate --duration (s) --quiet (s) --snapshot (s)
//          --steps 10000,25000,50000 --fault none|nats|registry|both --silent 0.01
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { runScale, type ScaleOptions, type ScaleResult } from './scale/run.js'
import { pct } from './scale/measure.js'

const { values: a } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    hosts: { type: 'string' }, endpoints: { type: 'string' }, services: { type: 'string' }, rate: { type: 'string' },
    duration: { type: 'string' }, quiet: { type: 'string' }, snapshot: { type: 'string' }, steps: { type: 'string' },
    fault: { type: 'string', default: 'none' }, silent: { type: 'string' }, conns: { type: 'string' },
  },
})
const full = a.full === true
const num = (v: string | undefined, small: number, big: number): number => v !== undefined ? Number(v) : full ? big : small
const endpoints = num(a.endpoints, 1000, 50_000)
const opts: ScaleOptions = {
  hosts: num(a.hosts, 20, 1000),
  endpoints,
  services: num(a.services, 100, 5000),
  rate: num(a.rate, 100, 1000),
  durationS: num(a.duration, 20, 120),
  quietS: num(a.quiet, 10, 35),
  heartbeatMs: 2000,
  snapshotMs: num(a.snapshot, 30, 30) * 1000,
  steps: a.steps !== undefined ? a.steps.split(',').map(Number) : [endpoints],
  silentFraction: num(a.silent, 0.05, 0.01),
  fault: a.fault as ScaleOptions['fault'],
  conns: num(a.conns, 3, 12),
  registries: 3,
  renderers: 2,
  settleTimeoutS: full ? 600 : 60,
  log: (l) => { console.log(l) },
}
console.log(`bench/scale: ${JSON.stringify({ ...opts, log: undefined })}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`)
const r = await runScale(opts)
report(r)

function report (r: ScaleResult): void {
  const f = (x: number): string => x.toFixed(0)
  const line = (name: string, xs: number[]): string => `${name}: p50 ${f(pct(xs, 0.5))} ms, p99 ${f(pct(xs, 0.99))} ms, max ${f(xs.reduce((a, b) => Math.max(a, b), 0))} ms (${xs.length} events)`
  console.log('\n== event published → in nginx shared dict (goal p99 ≤ 500 ms)')
  for (const [id, xs] of r.latency.byRenderer) console.log(`  ${line(id, xs)}`)
  console.log(`  ${line('both', r.latency.all)}; never reached a dict: ${r.latency.never}; measurement loop lag max ${f(r.maxLagMs)} ms`)
  console.log(`  stages without this process's poll lag: published → seen in KV ${line('', r.stages.toKv).slice(2)}; published → in nginx by the renderer's clock ${line('', r.stages.toApplied).slice(2)}`)
  console.log(`  ${r.events} events at ${r.achievedRate.toFixed(0)}/s achieved; publish failures (retried): ${r.publishFailures}; events no KV write holds: ${r.unwritten}`)
  console.log(`  measured: ${r.coverage}`)
  for (const fault of r.faults) {
    const during = r.latency.points.filter((p) => p.at >= fault.at && p.at <= fault.until + 10_000)
    const over = r.latency.points.filter((p) => p.at >= fault.at && p.ms > 500)
    const last = over.reduce((mx, p) => Math.max(mx, p.at + p.ms), fault.at)
    if (during.length === 0) { console.log(`  fault: ${fault.what}: no event published in it (+10 s) reached a dict by the end`); continue }
    console.log(`  fault: ${fault.what}: worst ${f(during.reduce((a, p) => Math.max(a, p.ms), 0))} ms, p99 ${f(pct(during.map((p) => p.ms), 0.99))} ms during it (+10 s); ` +
      `${over.length} events over goal; all under goal again ${((last - fault.at) / 1000).toFixed(1)} s after the fault` +
      (fault.until > 0 ? ` (${((last - fault.until) / 1000).toFixed(1)} s after the recovery)` : ''))
  }
  console.log('== processes during the change phase (goal ≤ 300 MB RSS each)')
  for (const p of [...r.procs, ...r.nats]) console.log(`  ${p.name.padEnd(10)} RSS ${f(p.rssMb)} MB (peak ${f(p.peakMb)} MB), CPU ${f(p.cpuPct)} %`)
  console.log(`  applied since each registry's last start (its /metrics): ${r.applied.map((a) => `${a.name} ${f(a.events)} endpoint writes, ${f(a.snapshots)} snapshots`).join('; ')}`)
  const restarted = r.restarts.filter((x) => x.restarts > 0)
  if (restarted.length > 0) console.log(`  exited on their own and restarted (supervisor): ${restarted.map((x) => `${x.name} ×${x.restarts}`).join(', ')}`)
  console.log('== memory by size (RSS after each fill step)')
  for (const s of r.memory) console.log(`  ${String(s.endpoints).padStart(6)} endpoints: ${s.procs.map((p) => `${p.name} ${f(p.rssMb)} MB`).join(', ')}`)
  console.log(`== fill: ${r.fillS.map((s) => s.toFixed(1)).join(', ')} s per step; quiet ${f(r.quiet.seconds)} s: endpoint KV writes ${r.quiet.endpointWritesPerS.toFixed(2)}/s, host KV writes ${r.quiet.hostWritesPerS.toFixed(1)}/s`)
  console.log(`== truth: KV table ${r.tableDiff.length === 0 ? 'identical' : `DIFFERS: ${r.tableDiff.join('; ')}`}; settled ${r.settleS.toFixed(1)} s after the last change`)
  for (const d of r.dictDiffs) console.log(`   nginx of ${d.renderer}: ${d.diff.length === 0 ? 'identical' : `DIFFERS: ${d.diff.join('; ')}`}`)
  console.log(`load average now ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
}
