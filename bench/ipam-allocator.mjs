// One IPAM allocator in its own process, as a registry instance runs it, for
// bench/ipam.ts (PROCS=1). Plain JS on dist/ (run `npm run build` first): no
// TypeScript loader at work while it is measured. Prints "ready"; "mark" on
// stdin restarts its CPU clock; "stop" prints its block-writer stats and its
// CPU time since the mark as one JSON line, and closes.
// Args: <nats url> <instance id>
import { createInterface } from 'node:readline'
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { Buckets, openBucket } from '../dist/src/bus/index.js'
import { silentLogger } from '../dist/src/core/index.js'
import { startIpamAllocator } from '../dist/src/registry/ipam/index.js'

const nc = await connect({ servers: process.argv[2] })
const [ipam, hosts] = await Promise.all([openBucket(nc, Buckets.ipam), openBucket(nc, Buckets.hosts)])
const alloc = await startIpamAllocator({
  nc, kv: { ipam, hosts }, log: silentLogger(), metrics: new Registry(), config: { quarantineMs: 60_000, instanceId: process.argv[3] },
})
let cpu0 = process.cpuUsage()
// ALLOC_PROF=<dir>: a CPU profile of the measured window only.
const prof = process.env.ALLOC_PROF != null ? new Session() : null
prof?.connect()
console.log('ready')
const rl = createInterface({ input: process.stdin })
for await (const line of rl) {
  if (line.trim() === 'mark') {
    cpu0 = process.cpuUsage()
    if (prof != null) { await prof.post('Profiler.enable'); await prof.post('Profiler.start') }
    continue
  }
  if (line.trim() !== 'stop') continue
  const cpu = process.cpuUsage(cpu0)
  if (prof != null) writeFileSync(`${process.env.ALLOC_PROF}/${process.argv[3]}.cpuprofile`, JSON.stringify((await prof.post('Profiler.stop')).profile))
  console.log(JSON.stringify({ ...alloc.blockStats(), cpuMs: (cpu.user + cpu.system) / 1000, sysMs: cpu.system / 1000 }))
  await alloc.close()
  await nc.close()
  rl.close()
}
