// DNS lookup throughput: dnsperf against driftgate's DNS and against dnsmasq
// serving the same 1,000 names from a hosts file, alternating, same pinning
// (server on core SERVER_CORE, dnsperf on core CLIENT_CORE), loopback only.
// The machine is noisy: PROCS driftgate processes (identical processes differ
// for their whole life), rounds alternate the order, and the ratio is also
// given per round (median driftgate / dnsmasq of that round).
//   node --import=tsx bench/dns.ts
//   env: RUNS=4 PROCS=3 SECONDS=3 NAMES=1000
// Needs dnsperf and dnsmasq (apt-get install dnsperf dnsmasq-base).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startNats, run, freePort } from '../test/harness/index.js'
import { endpoint } from '../test/integration/lookup-setup.js'
import { cpuSeconds, median, pinned, pinnedMany, putEndpoints, TS_NODE, type Child } from './lookup-bench-util.js'

const RUNS = Number(process.env.RUNS ?? 4)
const PROCS = Number(process.env.PROCS ?? 3)
const SECONDS = Number(process.env.SECONDS ?? 3)
const NAMES = Number(process.env.NAMES ?? 1000)
const SERVER_CORE = Number(process.env.SERVER_CORE ?? 1)
const CLIENT_CORE = Number(process.env.CLIENT_CORE ?? 0)

const ipOf = (i: number): string => `10.240.${(i >> 8) & 255}.${(i & 255) + 1 > 254 ? 254 : (i & 255) + 1}`

interface Result { qps: number, perCpuSecond: number }

async function dnsperf (port: number, queries: string, pid?: number): Promise<Result> {
  const cpu0 = pid !== undefined ? cpuSeconds(pid) : 0
  const out = await run('taskset', ['-c', String(CLIENT_CORE), 'dnsperf', '-s', '127.0.0.1', '-p', String(port),
    '-d', queries, '-l', String(SECONDS), '-q', '200', '-t', '2'], { timeoutMs: (SECONDS + 30) * 1000 })
  const qps = /Queries per second:\s+([\d.]+)/.exec(out)
  const lost = /Queries lost:\s+(\d+)/.exec(out)
  if (qps === null) throw new Error(`dnsperf output not understood:\n${out}`)
  const done = /Queries completed:\s+(\d+)/.exec(out)
  if (lost !== null && Number(lost[1]) > 100) process.stdout.write(`  (lost ${lost[1]})\n`)
  const cpu = pid !== undefined ? cpuSeconds(pid) - cpu0 : 0
  return { qps: Number(qps[1]), perCpuSecond: cpu > 0 ? Number(done?.[1] ?? 0) / cpu : 0 }
}

const dir = mkdtempSync('/tmp/driftgate-bench-dns-')
const nats = await startNats()
const children: Child[] = []
try {
  // The same 1,000 names on both sides: KV endpoints for driftgate, a hosts file for dnsmasq.
  const names = Array.from({ length: NAMES }, (_, i) => i)
  await putEndpoints(nats.url, names.map((i) => endpoint(`svc${i}`, ipOf(i), { containerId: `b0b0${i.toString(16).padStart(8, '0')}` })))
  writeFileSync(join(dir, 'hosts'), names.map((i) => `${ipOf(i)} svc${i}.service.driftgate\n`).join(''))
  writeFileSync(join(dir, 'queries'), names.map((i) => `svc${i}.service.driftgate A\n`).join(''))

  const lookups = await pinnedMany(PROCS, SERVER_CORE, process.execPath, [...TS_NODE, 'bench/lookup-serve.ts', 'lookup', nats.url], children)
  const dmPort = await freePort()
  const dnsmasq = await pinned(SERVER_CORE, 'dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', `--port=${dmPort}`,
    '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', `--addn-hosts=${join(dir, 'hosts')}`,
    `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--user=root', '--cache-size=10000'], false)
  children.push(dnsmasq)
  const echo = await pinned(SERVER_CORE, process.execPath, [...TS_NODE, 'bench/lookup-serve.ts', 'udp-echo'])
  children.push(echo)
  await new Promise((r) => setTimeout(r, 500))
  const check = await run('dig', ['@127.0.0.1', '-p', String(dmPort), '+short', 'svc7.service.driftgate'])
  for (const l of lookups) {
    const check2 = await run('dig', ['@127.0.0.1', '-p', String(l.info.dnsPort), '+short', 'svc7.service.driftgate'])
    if (check.trim() !== ipOf(7) || check2.trim() !== ipOf(7)) throw new Error(`servers disagree: dnsmasq ${check} driftgate ${check2}`)
  }

  const q = join(dir, 'queries')
  for (const l of lookups) await dnsperf(l.info.dnsPort, q) // warm-up (JIT)
  const dg: Result[] = []
  const dm: Result[] = []
  const ec: Result[] = []
  const rounds: number[] = []
  const fmt = (x: Result): string => `${x.qps.toFixed(0)}`
  for (let r = 0; r < RUNS; r++) {
    const servers: Array<[Child, number, Result[]]> = [
      ...lookups.map((l): [Child, number, Result[]] => [l, l.info.dnsPort, dg]), [dnsmasq, dmPort, dm], [echo, echo.info.dnsPort, ec]]
    const got = new Map<Child, Result>()
    for (const [c, port, into] of r % 2 === 0 ? servers : [...servers].reverse()) {
      const res = await dnsperf(port, q, c.proc.pid)
      got.set(c, res)
      into.push(res)
    }
    const d = lookups.map((l) => got.get(l)!)
    rounds.push(median(d.map((x) => x.qps)) / got.get(dnsmasq)!.qps)
    process.stdout.write(`round ${r + 1}: driftgate ${d.map(fmt).join(' ')} qps, dnsmasq ${fmt(got.get(dnsmasq)!)}, node udp echo ${fmt(got.get(echo)!)}\n`)
  }
  const a = median(dg.map((x) => x.qps))
  const b = median(dm.map((x) => x.qps))
  const c = median(ec.map((x) => x.qps))
  const ac = median(dg.map((x) => x.perCpuSecond))
  const bc = median(dm.map((x) => x.perCpuSecond))
  const cc = median(ec.map((x) => x.perCpuSecond))
  process.stdout.write(`\nDNS A, ${NAMES} names, ${RUNS} rounds × ${SECONDS}s (${PROCS} driftgate processes), server on core ${SERVER_CORE}, dnsperf on core ${CLIENT_CORE}\n`)
  process.stdout.write(`                 qps (median)   queries per server CPU-second (median)\n`)
  process.stdout.write(`  driftgate   ${a.toFixed(0).padStart(12)}   ${ac.toFixed(0).padStart(12)}\n`)
  process.stdout.write(`  dnsmasq     ${b.toFixed(0).padStart(12)}   ${bc.toFixed(0).padStart(12)}\n`)
  process.stdout.write(`  node echo   ${c.toFixed(0).padStart(12)}   ${cc.toFixed(0).padStart(12)}   (Node's bare UDP ceiling, reference)\n`)
  process.stdout.write(`  ratio       ${(a / b).toFixed(2).padStart(12)}   ${(ac / bc).toFixed(2).padStart(12)}   (goal >= 0.6 of dnsmasq)\n`)
  process.stdout.write(`  per-round ratio ${median(rounds).toFixed(2).padStart(8)}                  (median over rounds of median driftgate / dnsmasq)\n`)
} finally {
  for (const c of children) await c.stop()
  await nats.stop()
  rmSync(dir, { recursive: true, force: true })
}
