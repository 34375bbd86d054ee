// IPAM allocation throughput and latency through the Docker plugin socket
// (RequestAddress exactly as dockerd sends it, without docker run), with 1
// and with 3 allocator instances on one real nats-server. Duplicates are
// counted from the answers and from the KV records (must be 0).
// Goal: >= 1,000 allocations/s, p99 <= 20 ms; on a 3-node cluster (CLUSTER=1:
// R3 buckets, allocators spread over the nodes) >= 3,000/s, p99 <= 10 ms (issue 20).
// Side by side in one run: the per-address layout (one compare-and-set per
// allocation) and the block layout (pools created with a block size: leased
// blocks, many allocations per compare-and-set).
// Run: node --import tsx bench/ipam.ts
//   (env: TOTAL, CONCURRENCY, CLUSTER, LAYOUTS=address,blocks, BLOCK=64,
//    PROCS=1: each allocator in its own process, as registry instances run
//    (bench/ipam-allocator.mjs on dist/: `npm run build` first);
//    VIA=nats: requests straight from the agent's IPAM client of HOSTS=100
//    simulated hosts instead of through one Docker plugin socket;
//    INSTANCES=1,3: the allocator counts to run;
//    BASE=dist-base (PROCS=1): every run also with the allocators of an older
//    build, interleaved, for before/after ratios in one run;
//    ALLOC_PROF=<dir>: each allocator process writes a CPU profile of its
//    measured window there)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, startNatsCluster } from '../test/harness/index.js'
import { Buckets, openBucket } from '../src/bus/index.js'
import { silentLogger } from '../src/core/index.js'
import { ipamClient, startIpamDriver, type IpamCall } from '../src/agent/ipam/index.js'
import { addPool, allocations, closeAgents, mac, pluginCall, startAllocator, type TestAllocator } from '../test/integration/ipam-fixtures.js'

const TOTAL = Number(process.env.TOTAL ?? 3000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32)

/** CPU time of a process in ms, from /proc (utime + stime, 100 ticks/s). */
function serverCpuMs (pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}

function pct (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

const CLUSTER = process.env.CLUSTER === '1'
const LAYOUTS = (process.env.LAYOUTS ?? 'address,blocks').split(',')
const BLOCK = Number(process.env.BLOCK ?? 64)
const PROCS = process.env.PROCS === '1'
const VIA = process.env.VIA ?? 'socket'
const HOSTS = Number(process.env.HOSTS ?? 100)
/** Rounds of all runs, interleaved, so a load swing on a shared machine hits every layout alike; medians at the end. */
const ROUNDS = Math.max(1, Math.min(8, Number(process.env.ROUNDS ?? 1)))
const INSTANCES = (process.env.INSTANCES ?? '1,3').split(',').map(Number)
const BASE = process.env.BASE ?? ''
if (BASE !== '' && !PROCS) throw new Error('BASE needs PROCS=1: the older build runs in the allocator processes')
const BUILDS = BASE !== '' ? [{ name: 'base', dist: BASE }, { name: 'new', dist: 'dist' }] : [{ name: '', dist: 'dist' }]

/** One allocator process's counters over the measured window (an older build has only some of them). */
interface Stats {
  writes: number, ops: number, conflicts: number, cpuMs: number, sysMs: number
  deliveries?: number, applyMs?: number, overflow?: number, full?: number, leased?: number, gaveUp?: number
}
interface Running { mark: () => void, stop: () => Promise<Stats> }

/** An allocator in this process (its CPU counts as the bench's node CPU). */
async function inProcess (url: string): Promise<Running> {
  const a: TestAllocator = await startAllocator(url, { quarantineMs: 60_000 })
  return { mark: () => {}, stop: async () => { const s = a.alloc.blockStats(); await a.close(); return { ...s, cpuMs: 0, sysMs: 0 } } }
}

/** An allocator in a child process, as a registry instance runs it. */
async function child (url: string, id: string, dist: string): Promise<Running> {
  const p = spawn(process.execPath, ['bench/ipam-allocator.mjs', url, id], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ALLOC_DIST: dist } })
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]()
  if ((await lines.next()).value !== 'ready') throw new Error('allocator process did not start')
  return {
    mark: () => { p.stdin.write('mark\n') },
    stop: async () => {
      p.stdin.write('stop\n')
      const line = (await lines.next()).value as string
      p.stdin.end()
      await once(p, 'exit')
      return JSON.parse(line) as Stats
    },
  }
}
// One server, or a 3-node JetStream cluster whose buckets have 3 replicas.
const nats = CLUSTER
  ? await startNatsCluster(3).then((c) => ({ urls: c.urls, pids: () => c.nodes.map((n) => n.pid), stop: async () => { await c.stop() } }))
  : await startNats().then((s) => ({ urls: [s.url], pids: () => [s.pid], stop: async () => { await s.stop() } }))
const natsCpuMs = (): number => nats.pids().reduce((sum, pid) => sum + serverCpuMs(pid), 0)
const nodeCpuMs = (): number[] => nats.pids().map(serverCpuMs)
const dir = mkdtempSync(join(tmpdir(), 'dg-ipam-bench-'))
try {
  const nc = await connect({ servers: nats.urls })
  const replicas = CLUSTER ? 3 : 1
  const kv = await openBucket(nc, Buckets.ipam, { replicas })
  await openBucket(nc, Buckets.hosts, { replicas })
  const driver = await startIpamDriver({ nc, host: 'bench', name: 'dgbench', socketDir: dir, log: silentLogger(), metrics: new Registry() })
  const via = VIA === 'nats' ? `the agent IPAM client of ${HOSTS} hosts` : driver.socketPath
  console.log(`ipam bench: ${TOTAL} allocations, ${CONCURRENCY} in flight, through ${via}, ${CLUSTER ? '3-node cluster, R3 buckets' : 'one nats-server'}, allocators ${PROCS ? 'in their own processes' : 'in the bench process'}`)
  console.log(`layout   ${BASE !== '' ? 'build ' : ''}allocators  allocs/s  p50 ms  p99 ms  max ms  errors  duplicates  cpu ms/alloc (bench${PROCS ? ' + allocators' : ''} + nats-server)`)
  const clients = new Map<string, IpamCall>()
  let retries = 0
  const ask = async (pool: string, i: number, n: number): Promise<{ ip?: string, err?: string }> => {
    if (VIA !== 'nats') {
      const r = await pluginCall(driver.socketPath, 'IpamDriver.RequestAddress', { PoolID: pool, Address: '', Options: { 'com.docker.network.endpoint.macaddress': mac(i, n) } })
      return r.Err != null ? { err: r.Err } : { ip: r.Address }
    }
    const host = `h${i % HOSTS}`
    let call = clients.get(host)
    if (call == null) clients.set(host, call = ipamClient(nc, host, undefined, undefined, () => { retries++ }))
    try { return { ip: (await call('allocate', { v: 1, pool, host, mac: mac(i, n) })).ip } } catch (err) { return { err: (err as Error).message } }
  }
  const runs = Array.from({ length: ROUNDS }, () => LAYOUTS.flatMap((layout) => INSTANCES.flatMap((instances) => BUILDS.map((build) => ({ layout, instances, build }))))).flat()
  const results = new Map<string, Array<{ rate: number, p50: number, p99: number, cpu: number }>>()
  for (const [n, { layout, instances, build }] of runs.entries()) {
    const pool = `bench${n}`
    // Inside 10.240.0.0/13 (test subnets), a /18 per run.
    await addPool(kv, pool, { subnet: `10.${240 + (n % 8)}.${Math.floor(n / 8) * 64}.0/18`, blockSize: layout === 'blocks' ? BLOCK : undefined })
    const allocs = await Promise.all(Array.from({ length: instances }, async (_, i) =>
      PROCS ? await child(nats.urls[i % nats.urls.length], `bench-${n}-${i}`, build.dist) : await inProcess(nats.urls[i % nats.urls.length])))
    // Warm-up: connections, JIT, the pool in every mirror.
    for (let i = 0; i < 50; i++) await ask(pool, 10_000_000 + i, n)
    const lat: number[] = []
    const got: string[] = []
    let errors = 0
    let next = 0
    for (const a of allocs) a.mark()
    const started = performance.now()
    const cpu0 = process.cpuUsage()
    const srv0 = natsCpuMs()
    const nodes0 = nodeCpuMs()
    const retries0 = retries
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < TOTAL) {
        const i = next++
        const t0 = performance.now()
        const r = await ask(pool, i, n)
        lat.push(performance.now() - t0)
        if (r.err != null) errors++; else got.push(r.ip as string)
      }
    }))
    const secs = (performance.now() - started) / 1000
    const cpu = process.cpuUsage(cpu0)
    const nodeMs = (cpu.user + cpu.system) / 1000 / TOTAL
    const srvMs = (natsCpuMs() - srv0) / TOTAL
    const perNode = nodeCpuMs().map((ms, i) => (ms - nodes0[i]) / TOTAL)
    const stats = await Promise.all(allocs.map(async (a) => await a.stop())) // child CPU: from the mark to here
    const sum = (k: keyof Stats): number => stats.reduce((t, x) => t + (x[k] ?? 0), 0)
    const st = { writes: sum('writes'), ops: sum('ops'), conflicts: sum('conflicts'), cpuMs: sum('cpuMs'), sysMs: sum('sysMs') }
    lat.sort((a, b) => a - b)
    const recs = await allocations(kv, pool)
    const dupAnswers = got.length - new Set(got).size
    const owners = new Map<string, number>()
    for (const r of recs.values()) owners.set(r.owner.mac, (owners.get(r.owner.mac) ?? 0) + 1)
    const dupOwners = [...owners.values()].filter((c) => c > 1).length
    console.log([layout.padEnd(7), ...(BASE !== '' ? [build.name.padEnd(5)] : []), String(instances).padEnd(10), (TOTAL / secs).toFixed(0).padStart(8), pct(lat, 0.5).toFixed(1).padStart(6),
      pct(lat, 0.99).toFixed(1).padStart(6), lat[lat.length - 1].toFixed(1).padStart(6), String(errors).padStart(6),
      String(dupAnswers + dupOwners).padStart(11), `${nodeMs.toFixed(2)} + ${PROCS ? `${(st.cpuMs / TOTAL).toFixed(2)} + ` : ''}${srvMs.toFixed(2)}`.padStart(13)].join('  '))
    const row = `${layout} ${instances}${build.name !== '' ? ` ${build.name}` : ''}`
    if (!results.has(row)) results.set(row, [])
    results.get(row)?.push({ rate: TOTAL / secs, p50: pct(lat, 0.5), p99: pct(lat, 0.99), cpu: nodeMs + st.cpuMs / TOTAL + srvMs })
    if (PROCS) {
      console.log(`  allocator processes: ${(st.cpuMs / TOTAL).toFixed(3)} ms CPU per allocation, of which kernel ${(st.sysMs / TOTAL).toFixed(3)}; each: ${stats.map((x) => (x.cpuMs / TOTAL).toFixed(3)).join(' / ')}`)
      console.log(`  nats-servers: ${perNode.map((x) => x.toFixed(3)).join(' / ')} ms CPU per allocation; agent client retries: ${retries - retries0}`)
    }
    if (st.ops > 0) console.log(`  block writes: ${st.writes} for ${st.ops} ops (${(st.ops / Math.max(1, st.writes)).toFixed(1)} per write), ${st.conflicts} lost races`)
    if (stats[0].deliveries != null) {
      const d = sum('deliveries')
      console.log(`  mirrors: ${d} watch deliveries (${(d / TOTAL).toFixed(2)} per allocation), ${(sum('applyMs') / Math.max(1, d) * 1000).toFixed(0)} µs each to apply; ` +
        `picker: ${sum('overflow')} overflow allocations, refused ${sum('full')} full / ${sum('leased')} leased / ${sum('gaveUp')} fought over`)
    }
    if (recs.size !== TOTAL + 50) console.log(`  note: ${recs.size} KV records for ${TOTAL + 50} allocations`)
  }
  if (ROUNDS > 1) {
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    console.log(`medians of ${ROUNDS} rounds: layout allocators  allocs/s  p50 ms  p99 ms  cpu ms/alloc (all processes)`)
    for (const [row, rs] of results) {
      console.log(`  ${row.padEnd(22)} ${med(rs.map((r) => r.rate)).toFixed(0).padStart(8)}  ${med(rs.map((r) => r.p50)).toFixed(1).padStart(6)}  ${med(rs.map((r) => r.p99)).toFixed(1).padStart(6)}  ${med(rs.map((r) => r.cpu)).toFixed(2).padStart(6)}`)
    }
  }
  closeAgents()
  await driver.close()
  await nc.close()
} finally {
  await nats.stop()
  rmSync(dir, { recursive: true, force: true })
}
