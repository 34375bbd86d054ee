// Shared by the IPAM integration tests and bench/ipam.ts: allocators on their
// own NATS connections (so one can be "killed": its connection dropped with
// requests in flight), pool creation, and Docker-style plugin calls through
// the driver's unix socket.
import { request, Agent } from 'node:http'
import { connect, type KV, type NatsConnection } from 'nats'
import { Registry } from 'prom-client'
import { Buckets, openBucket } from '../../src/bus/index.js'
import { poolKey, silentLogger, type PoolRecord } from '../../src/core/index.js'
import { startIpamAllocator, buildPool, type IpamAllocator, type IpamAllocatorConfig, type PoolInput } from '../../src/registry/ipam/index.js'
import { casCreate } from '../../src/registry/ipam/store.js'
import { IpamMirror } from '../../src/registry/ipam/mirror.js'

export const mac = (n: number, hostByte = 0): string =>
  ['02', hostByte.toString(16).padStart(2, '0'), ...[24, 16, 8, 0].map((s) => ((n >>> s) & 255).toString(16).padStart(2, '0'))].join(':')

export interface TestAllocator { nc: NatsConnection, alloc: IpamAllocator, kill: () => Promise<void>, close: () => Promise<void> }

export async function startAllocator (url: string, config: IpamAllocatorConfig, metrics = new Registry()): Promise<TestAllocator> {
  const nc = await connect({ servers: url })
  const [ipam, hosts] = await Promise.all([openBucket(nc, Buckets.ipam), openBucket(nc, Buckets.hosts)])
  const alloc = await startIpamAllocator({ nc, kv: { ipam, hosts }, log: silentLogger(), metrics, config })
  let gone = false
  return {
    nc,
    alloc,
    // A crash: the connection drops with requests in flight, nothing is drained.
    kill: async () => { if (gone) return; gone = true; await nc.close(); await alloc.close() },
    close: async () => { if (gone) return; gone = true; await alloc.close(); await nc.close() },
  }
}

export async function addPool (kv: KV, name: string, input: PoolInput): Promise<PoolRecord> {
  const rec = buildPool(name, input)
  if (await casCreate(kv, poolKey(name), rec) == null) throw new Error(`pool ${name} exists`)
  return rec
}

const agents = new Map<string, Agent>()

/** One Docker plugin call through the unix socket, as dockerd makes it. */
export async function pluginCall (socketPath: string, method: string, body: unknown = {}): Promise<Record<string, any>> {
  let agent = agents.get(socketPath)
  if (agent == null) agents.set(socketPath, agent = new Agent({ keepAlive: true, maxSockets: 64 }))
  const data = JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = request({
      socketPath, agent, path: `/${method}`, method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.plugins.v1+json', 'content-length': Buffer.byteLength(data) },
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try { resolve({ status: res.statusCode, type: res.headers['content-type'], ...JSON.parse(Buffer.concat(chunks).toString('utf8')) }) } catch (err) { reject(err) }
      })
    })
    req.on('error', reject)
    req.end(data)
  })
}

export function closeAgents (): void {
  for (const a of agents.values()) a.destroy()
  agents.clear()
}

/** All allocation records of a pool, read from KV (a fresh mirror: an initial load of the bucket). */
export async function allocations (kv: KV, pool: string): Promise<Map<string, any>> {
  const m = new IpamMirror(kv, silentLogger())
  await m.start()
  await m.close()
  const out = new Map<string, any>()
  for (const [k, v] of m.allocations) if (k.startsWith(`${pool}.`)) out.set(k, v.value)
  return out
}
