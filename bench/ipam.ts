// IPAM allocation throughput and latency through the Docker plugin socket
// (RequestAddress exactly as dockerd sends it, without docker run), with 1
// and with 3 allocator instances on one real nats-server. Duplicates are
// counted from the answers and from the KV records (must be 0).
// Goal: >= 1,000 allocations/s, p99 <= 20 ms; on a 3-node cluster (CLUSTER=1:
// R3 buckets, allocators spread over the nodes) >= 3,000/s, p99 <= 10 ms (issue 20).
// Side by side in one run: the per-address layout (one compare-and-set per
// allocation) and the block layout (pools created with a block size: leased
// blocks, many allocations per compare-and-set).
// Run: node --import @tapjs/typescript/import bench/ipam.ts
//   (env: TOTAL, CONCURRENCY, CLUSTER, LAYOUTS=address,blocks, BLOCK=64)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, startNatsCluster } from '../test/harness/index.js'
import { Buckets, openBucket } from '../src/bus/index.js'
import { silentLogger } from '../src/core/index.js'
import { startIpamDriver } from '../src/agent/ipam/index.js'
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
// One server, or a 3-node JetStream cluster whose buckets have 3 replicas.
const nats = CLUSTER
  ? await startNatsCluster(3).then((c) => ({ urls: c.urls, pids: () => c.nodes.map((n) => n.pid), stop: async () => { await c.stop() } }))
  : await startNats().then((s) => ({ urls: [s.url], pids: () => [s.pid], stop: async () => { await s.stop() } }))
const natsCpuMs = (): number => nats.pids().reduce((sum, pid) => sum + serverCpuMs(pid), 0)
const dir = mkdtempSync(join(tmpdir(), 'dg-ipam-bench-'))
try {
  const nc = await connect({ servers: nats.urls })
  const replicas = CLUSTER ? 3 : 1
  const kv = await openBucket(nc, Buckets.ipam, { replicas })
  await openBucket(nc, Buckets.hosts, { replicas })
  const driver = await startIpamDriver({ nc, host: 'bench', name: 'dgbench', socketDir: dir, log: silentLogger(), metrics: new Registry() })
  console.log(`ipam bench: ${TOTAL} RequestAddress calls, ${CONCURRENCY} in flight, through ${driver.socketPath}, ${CLUSTER ? '3-node cluster, R3 buckets' : 'one nats-server'}`)
  console.log('layout   allocators  allocs/s  p50 ms  p99 ms  max ms  errors  duplicates  cpu ms/alloc (node + nats-server)')
  const runs = LAYOUTS.flatMap((layout) => [1, 3].map((instances) => ({ layout, instances })))
  for (const [n, { layout, instances }] of runs.entries()) {
    const pool = `bench${n}`
    await addPool(kv, pool, { subnet: `10.${240 + n}.0.0/16`, blockSize: layout === 'blocks' ? BLOCK : undefined })
    const allocs: TestAllocator[] = []
    for (let i = 0; i < instances; i++) allocs.push(await startAllocator(nats.urls[i % nats.urls.length], { quarantineMs: 60_000 }))
    // Warm-up: connections, JIT, the pool in every mirror.
    for (let i = 0; i < 50; i++) await pluginCall(driver.socketPath, 'IpamDriver.RequestAddress', { PoolID: pool, Options: { 'com.docker.network.endpoint.macaddress': mac(10_000_000 + i, n) } })
    const lat: number[] = []
    const got: string[] = []
    let errors = 0
    let next = 0
    const started = performance.now()
    const cpu0 = process.cpuUsage()
    const srv0 = natsCpuMs()
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < TOTAL) {
        const i = next++
        const t0 = performance.now()
        const r = await pluginCall(driver.socketPath, 'IpamDriver.RequestAddress', { PoolID: pool, Address: '', Options: { 'com.docker.network.endpoint.macaddress': mac(i, n) } })
        lat.push(performance.now() - t0)
        if (r.Err != null) errors++; else got.push(r.Address as string)
      }
    }))
    const secs = (performance.now() - started) / 1000
    const cpu = process.cpuUsage(cpu0)
    const nodeMs = (cpu.user + cpu.system) / 1000 / TOTAL
    const srvMs = (natsCpuMs() - srv0) / TOTAL
    lat.sort((a, b) => a - b)
    const recs = await allocations(kv, pool)
    const dupAnswers = got.length - new Set(got).size
    const owners = new Map<string, number>()
    for (const r of recs.values()) owners.set(r.owner.mac, (owners.get(r.owner.mac) ?? 0) + 1)
    const dupOwners = [...owners.values()].filter((c) => c > 1).length
    console.log([layout.padEnd(7), String(instances).padEnd(10), (TOTAL / secs).toFixed(0).padStart(8), pct(lat, 0.5).toFixed(1).padStart(6),
      pct(lat, 0.99).toFixed(1).padStart(6), lat[lat.length - 1].toFixed(1).padStart(6), String(errors).padStart(6),
      String(dupAnswers + dupOwners).padStart(11), `${nodeMs.toFixed(2)} + ${srvMs.toFixed(2)}`.padStart(13)].join('  '))
    const st = allocs.map((a) => a.alloc.blockStats()).reduce((x, y) => ({ writes: x.writes + y.writes, ops: x.ops + y.ops, conflicts: x.conflicts + y.conflicts }))
    if (st.ops > 0) console.log(`  block writes: ${st.writes} for ${st.ops} ops (${(st.ops / Math.max(1, st.writes)).toFixed(1)} per write), ${st.conflicts} lost races`)
    if (recs.size !== TOTAL + 50) console.log(`  note: ${recs.size} KV records for ${TOTAL + 50} allocations`)
    for (const a of allocs) await a.close()
  }
  closeAgents()
  await driver.close()
  await nc.close()
} finally {
  await nats.stop()
  rmSync(dir, { recursive: true, force: true })
}
