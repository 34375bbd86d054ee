// HTTP lookup throughput: wrk on GET /v1/services/web/endpoints against
// driftgate and against a bare node:http server returning the same body,
// alternating, same pinning (server on SERVER_CORE, wrk on CLIENT_CORE).
//   node --import=@tapjs/typescript/import bench/lookup-http.ts
//   env: RUNS=3 SECONDS=5 CONNECTIONS=32 ENDPOINTS=3
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'nats'
import { startNats, run } from '../test/harness/index.js'
import { encodeJson, openBucket, Buckets } from '../src/bus/index.js'
import { newInstanceId, type EndpointRecord } from '../src/core/index.js'
import { cpuSeconds, median, pinned, TS_NODE, type Child } from './lookup-bench-util.js'

const RUNS = Number(process.env.RUNS ?? 3)
const SECONDS = Number(process.env.SECONDS ?? 5)
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
  const nc = await connect({ servers: nats.url })
  const kv = await openBucket(nc, Buckets.endpoints)
  const instance = newInstanceId()
  for (let i = 0; i < ENDPOINTS; i++) {
    const rec: EndpointRecord = {
      v: 1, service: 'web', containerId: `cafe${i.toString(16).padStart(8, '0')}`, ip: `10.240.0.${i + 10}`, mac: '02:42:0a:f0:00:01',
      port: 8080, network: 'mv0', state: 'running', health: 'healthy', weight: 1, host: `h${i % 3}`, instance, seq: i, updatedAt: Date.now(),
    }
    await kv.put(`web.${rec.containerId}`, encodeJson(rec))
  }
  await nc.close()
  const lookup = await pinned(SERVER_CORE, process.execPath, [...TS_NODE, 'bench/lookup-serve.ts', 'lookup', nats.url])
  children.push(lookup)
  const body = Buffer.from(await (await fetch(`http://127.0.0.1:${lookup.info.httpPort}${PATH}`)).arrayBuffer())
  writeFileSync(join(dir, 'body.json'), body)
  const bare = await pinned(SERVER_CORE, process.execPath, [...TS_NODE, 'bench/lookup-serve.ts', 'bare', join(dir, 'body.json')])
  children.push(bare)
  const same = Buffer.from(await (await fetch(`http://127.0.0.1:${bare.info.httpPort}${PATH}`)).arrayBuffer())
  if (!same.equals(body)) throw new Error('bodies differ')
  process.stdout.write(`body: ${body.length} bytes, ${ENDPOINTS} endpoints\n`)

  // Warm both up (JIT, connection pools) before measuring.
  const warm = SECONDS
  await run('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${warm}s`, `http://127.0.0.1:${lookup.info.httpPort}${PATH}`])
  await run('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${warm}s`, `http://127.0.0.1:${bare.info.httpPort}${PATH}`])
  const dg: Result[] = []
  const bn: Result[] = []
  for (let r = 0; r < RUNS; r++) {
    dg.push(await wrk(lookup.info.httpPort, lookup.proc.pid!))
    bn.push(await wrk(bare.info.httpPort, bare.proc.pid!))
    const fmt = (x: Result): string => `${x.rps.toFixed(0)} rps (${x.perCpuSecond.toFixed(0)}/cpu-s)`
    process.stdout.write(`run ${r + 1}: driftgate ${fmt(dg[r])}, bare node:http ${fmt(bn[r])}\n`)
  }
  const a = median(dg.map((x) => x.rps))
  const b = median(bn.map((x) => x.rps))
  const ac = median(dg.map((x) => x.perCpuSecond))
  const bc = median(bn.map((x) => x.perCpuSecond))
  process.stdout.write(`\nGET ${PATH}, wrk -t1 -c${CONNECTIONS}, ${RUNS}×${SECONDS}s, server on core ${SERVER_CORE}, wrk on core ${CLIENT_CORE}\n`)
  process.stdout.write(`                  rps (median)   requests per server CPU-second (median)\n`)
  process.stdout.write(`  driftgate      ${a.toFixed(0).padStart(10)}   ${ac.toFixed(0).padStart(10)}\n`)
  process.stdout.write(`  bare node:http ${b.toFixed(0).padStart(10)}   ${bc.toFixed(0).padStart(10)}\n`)
  process.stdout.write(`  ratio          ${(a / b).toFixed(2).padStart(10)}   ${(ac / bc).toFixed(2).padStart(10)}   (goal >= 0.8)\n`)
} finally {
  for (const c of children) await c.stop()
  await nats.stop()
  rmSync(dir, { recursive: true, force: true })
}
