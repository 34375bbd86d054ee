// Child process for renderer-burst.test.ts (and bench/render-scale.ts): publishes
// N endpoint records to the endpoints bucket's subject in 50 even slices over
// `ms` milliseconds, apart from the renderer's event loop, as a registry would.
// Args: <nats url> <count> <ms> <services> <ip third-octet base>. Prints the elapsed ms.
import { connect } from 'nats'

const [url, count, ms, services, base] = process.argv.slice(2)
const N = Number(count); const S = Number(services); const B = Number(base ?? 0)
const nc = await connect({ servers: url })
const cid = (n) => n.toString(16).padStart(12, '0').padEnd(64, 'a')
const t0 = performance.now()
const slices = 50
for (let slice = 0; slice < slices; slice++) {
  for (let n = Math.floor(slice * N / slices); n < Math.floor((slice + 1) * N / slices); n++) {
    const service = `s${n % S}`
    const rec = {
      v: 1, service, containerId: cid(n + 1), ip: `10.${240 + ((n >> 16) & 15)}.${(B + (n >> 8)) & 255}.${n & 255}`, mac: '02:42:0a:f0:01:01',
      port: 80, network: 'mv0', state: 'running', health: 'none', weight: 1, host: 'h1', instance: '000000000-abcdef', seq: n, updatedAt: Date.now(),
    }
    nc.publish(`$KV.driftgate_endpoints.${service}.${rec.containerId}`, new TextEncoder().encode(JSON.stringify(rec)))
  }
  await nc.flush()
  const due = t0 + (slice + 1) * Number(ms) / slices
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())))
}
await nc.flush()
process.stdout.write(`${Math.round(performance.now() - t0)}\n`)
await nc.close()
