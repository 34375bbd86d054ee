// HTTP lookup throughput: wrk on GET /v1/services/web/endpoints against
// driftgate and against a bare node:http server returning the same body,
// alternating, same pinning (server on SERVER_CORE, wrk on CLIENT_CORE).
//   node --import=tsx bench/lookup-http.ts
//   env: RUNS=4 PROCS=3 SECONDS=2 CONNECTIONS=32 ENDPOINTS=3
// The machine is noisy (shared cores): short runs, alternating order, several
// processes per side, medians, and a per-round ratio that slow drift between
// rounds does not skew.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startNats, run } from '../test/harness/index.js'
import { endpoint } from '../test/integration/lookup-setup.js'
import { cpuSeconds, median, pinnedMany, putEndpoints, TS_NODE, type Child } from './lookup-bench-util.js'

const RUNS = Number(process.env.RUNS ?? 4)
const PROCS = Number(process.env.PROCS ?? 3)
const SECONDS = Number(process.env.SECONDS ?? 2)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32)
const ENDPOINTS = Number(process.env.ENDPOINTS ?? 3)
const SERVER_CORE = Number(process.env.SERVER_CORE ?? 1)
const CLIENT_CORE = Number(process.env.CLIENT_CORE ?? 0)
const PATH = '/v1/services/web/endpoints'

interface Result { rps: number, perCpuSecond: number }

async function wrk (port: number, pid: number): Promise<Result> {
  const cpu0 = cpuSeconds(pid)
  const out = await run('taskset', ['-c', String(CLIENT_CORE), 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`,
    `http://127.0.0.1:${port}${PATH}`], { timeoutMs: (SECONDS + 30) * 1000 })
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (rps === null) throw new Error(`wrk output not understood:\n${out}`)
  if (/Non-2xx/.test(out)) throw new Error(`non-2xx answers:\n${out}`)
  const done = /(\d+) requests in/.exec(out)
  const cpu = cpuSeconds(pid) - cpu0
  return { rps: Number(rps[1]), perCpuSecond: cpu > 0 ? Number(done?.[1] ?? 0) / cpu : 0 }
}

const dir = mkdtempSync('/tmp/driftgate-bench-http-')
const nats = await startNats()
const children: Child[] = []
try {
  await putEndpoints(nats.url, Array.from({ length: ENDPOINTS }, (_, i) =>
    endpoint('web', `10.240.0.${i + 10}`, { containerId: `cafe${i.toString(16).padStart(8, '0')}`, port: 8080, host: `h${i % 3}` })))
  // Identical server processes on this VM differ by up to ~10% in throughput
  // for their whole life (memory layout), so each side runs PROCS processes
  // and every round measures all of them, alternating the order.
  const lookups = await pinnedMany(PROCS, SERVER_CORE, process.execPath, [...TS_NODE, 'bench/lookup-serve.ts', 'lookup', nats.url], children)
  const body = Buffer.from(await (await fetch(`http://127.0.0.1:${lookups[0].info.httpPort}${PATH}`)).arrayBuffer())
  writeFileSync(join(dir, 'body.json'), body)
  const bares = await pinnedMany(PROCS, SERVER_CORE, process.execPath, [...TS_NODE, 'bench/lookup-serve.ts', 'bare', join(dir, 'body.json')], children)
  for (const c of [...lookups, ...bares]) {
    const same = Buffer.from(await (await fetch(`http://127.0.0.1:${c.info.httpPort}${PATH}`)).arrayBuffer())
    if (!same.equals(body)) throw new Error('bodies differ')
  }
  process.stdout.write(`body: ${body.length} bytes, ${ENDPOINTS} endpoints; ${PROCS} server processes of each kind\n`)

  // Warm every server up (JIT, connection pools) before measuring.
  for (const c of [...lookups, ...bares]) await run('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, `http://127.0.0.1:${c.info.httpPort}${PATH}`])
  const dg: Result[] = []
  const bn: Result[] = []
  const rounds: number[] = []
  const fmt = (x: Result): string => `${x.rps.toFixed(0)}`
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 === 0 ? [...lookups, ...bares] : [...bares, ...lookups]
    const got = new Map<Child, Result>()
    for (const c of order) got.set(c, await wrk(c.info.httpPort, c.proc.pid!))
    const d = lookups.map((c) => got.get(c)!)
    const b = bares.map((c) => got.get(c)!)
    dg.push(...d)
    bn.push(...b)
    rounds.push(median(d.map((x) => x.rps)) / median(b.map((x) => x.rps)))
    process.stdout.write(`round ${r + 1}: driftgate ${d.map(fmt).join(' ')} rps, bare node:http ${b.map(fmt).join(' ')} rps\n`)
  }
  const a = median(dg.map((x) => x.rps))
  const b = median(bn.map((x) => x.rps))
  const ac = median(dg.map((x) => x.perCpuSecond))
  const bc = median(bn.map((x) => x.perCpuSecond))
  process.stdout.write(`\nGET ${PATH}, wrk -t1 -c${CONNECTIONS}, ${RUNS} rounds × ${PROCS} processes × ${SECONDS}s, server on core ${SERVER_CORE}, wrk on core ${CLIENT_CORE}\n`)
  process.stdout.write(`                  rps (median)   requests per server CPU-second (median)\n`)
  process.stdout.write(`  driftgate      ${a.toFixed(0).padStart(10)}   ${ac.toFixed(0).padStart(10)}\n`)
  process.stdout.write(`  bare node:http ${b.toFixed(0).padStart(10)}   ${bc.toFixed(0).padStart(10)}\n`)
  process.stdout.write(`  ratio          ${(a / b).toFixed(2).padStart(10)}   ${(ac / bc).toFixed(2).padStart(10)}   (goal >= 0.8)\n`)
  process.stdout.write(`  per-round ratio ${median(rounds).toFixed(2).padStart(9)}                (median over rounds of median driftgate / median bare)\n`)
} finally {
  for (const c of children) await c.stop()
  await nats.stop()
  rmSync(dir, { recursive: true, force: true })
}
