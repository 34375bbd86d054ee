// One IPAM allocator in its own process, as a registry instance runs it, for
// bench/ipam.ts (PROCS=1). Plain JS on dist/ (run `npm run build` first): no
// TypeScript loader at work while it is measured. Prints "ready"; "mark" on
// stdin restarts its CPU clock; "stop" prints its block-writer stats and its
// CPU time since the mark as one JSON line, and closes.
// Args: <nats url> <instance id>. ALLOC_DIST=<dir>: the build to load (default
// dist; bench/ipam.ts's BASE runs an older build from another directory).
import { createInterface } from 'node:readline'
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Session } from 'node:inspector/promises'
import { connect } from 'nats'
import { Registry } from 'prom-client'

const dist = pathToFileURL(resolve(process.env.ALLOC_DIST ?? 'dist')).href
const { Buckets, openBucket } = await import(`${dist}/src/bus/index.js`)
const { silentLogger } = await import(`${dist}/src/core/index.js`)
const { startIpamAllocator } = await import(`${dist}/src/registry/ipam/index.js`)

const nc = await connect({ servers: process.argv[2] })
const [ipam, hosts] = await Promise.all([openBucket(nc, Buckets.ipam), openBucket(nc, Buckets.hosts)])
const alloc = await startIpamAllocator({
  nc, kv: { ipam, hosts }, log: silentLogger(), metrics: new Registry(), config: { quarantineMs: 60_000, instanceId: process.argv[3] },
})
let cpu0 = process.cpuUsage()
let stats0 = alloc.blockStats()
// ALLOC_PROF=<dir>: a CPU profile of the measured window only.
const prof = process.env.ALLOC_PROF != null ? new Session() : null
prof?.connect()
console.log('ready')
const rl = createInterface({ input: process.stdin })
for await (const line of rl) {
  if (line.trim() === 'mark') {
    cpu0 = process.cpuUsage()
    stats0 = alloc.blockStats()
    if (prof != null) { await prof.post('Profiler.enable'); await prof.post('Profiler.start') }
    continue
  }
  if (line.trim() !== 'stop') continue
  const cpu = process.cpuUsage(cpu0)
  if (prof != null) writeFileSync(`${process.env.ALLOC_PROF}/${process.argv[3]}.cpuprofile`, JSON.stringify((await prof.post('Profiler.stop')).profile))
  // Counters since the mark (the warm-up's writes left out).
  const now = alloc.blockStats()
  const delta = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (stats0[k] ?? 0)]))
  console.log(JSON.stringify({ ...delta, cpuMs: (cpu.user + cpu.system) / 1000, sysMs: cpu.system / 1000 }))
  await alloc.close()
  await nc.close()
  rl.close()
}
