// Shared setup for lookup integration tests and benches: a real nats-server,
// the three buckets, startLookup on loopback, and small helpers (dig, a fake
// upstream resolver).
import { createSocket, type Socket } from 'node:dgram'
import { createServer as createTcpServer } from 'node:net'
import dnsPacket from 'dns-packet'
import { connect, type KV, type NatsConnection } from 'nats'
import { Registry } from 'prom-client'
import { startNats, tryRun, type NatsServer } from '../harness/index.js'
import { openBucket, Buckets, encodeJson } from '../../src/bus/index.js'
import { silentLogger, type EndpointRecord, type HostRecord, type ServiceRecord } from '../../src/core/index.js'
import { startLookup, type Lookup, type LookupConfig } from '../../src/registry/lookup/index.js'

export interface Stack {
  nats: NatsServer
  nc: NatsConnection
  kv: { endpoints: KV, hosts: KV, services: KV }
  lookup: Lookup
  http: string
  putEndpoint: (rec: EndpointRecord) => Promise<number>
  close: () => Promise<void>
}

let seq = 0
export function endpoint (service: string, ip: string, over: Partial<EndpointRecord> = {}): EndpointRecord {
  seq++
  return {
    v: 1, service, containerId: over.containerId ?? `c0ffee${seq.toString(16).padStart(10, '0')}`, ip, mac: '02:42:0a:f0:00:01',
    port: 80, network: 'mv0', state: 'running', health: 'healthy', weight: 1,
    host: 'h1', instance: '0000000aa-abcdef', seq, updatedAt: Date.now(), ...over,
  }
}

export function hostRecord (host: string): HostRecord {
  return {
    v: 1, host, instance: '0000000aa-abcdef', capacity: { cpus: 2, memoryBytes: 1e9 },
    allocated: { cpus: 0, memoryBytes: 0, containers: 0 }, labels: {}, lastSeen: Date.now(), status: 'up', since: Date.now(),
  }
}

export function serviceRecord (name: string): ServiceRecord {
  return {
    v: 1, version: 1, updatedAt: Date.now(),
    spec: { name, image: 'img:1', replicas: 1, port: 80, network: 'mv0', resources: {}, env: {}, upstream: {}, placement: { spread: 'host' } },
  }
}

export async function startStack (config: Partial<LookupConfig> = {}, seed?: (kv: Stack['kv']) => Promise<void>): Promise<Stack> {
  const nats = await startNats()
  const nc = await connect({ servers: nats.url })
  const kv = {
    endpoints: await openBucket(nc, Buckets.endpoints),
    hosts: await openBucket(nc, Buckets.hosts),
    services: await openBucket(nc, Buckets.services),
  }
  if (seed !== undefined) await seed(kv)
  let lookup: Lookup
  try {
    lookup = await startLookup({
      nc, kv, log: silentLogger(), metrics: new Registry(),
      config: { httpPort: 0, httpHost: '127.0.0.1', dnsPort: 0, dnsHost: '127.0.0.1', ...config },
    })
  } catch (err) {
    await nc.close(); await nats.stop(); throw err
  }
  const putEndpoint = (rec: EndpointRecord): Promise<number> => kv.endpoints.put(`${rec.service}.${rec.containerId}`, encodeJson(rec))
  return {
    nats, nc, kv, lookup, http: `http://127.0.0.1:${lookup.httpPort}`, putEndpoint,
    close: async () => { await lookup.close(); await nc.close(); await nats.stop() },
  }
}

/** Runs dig against the lookup DNS; returns stdout lines (trimmed, non-empty). */
export async function dig (port: number, args: string[], server = '127.0.0.1'): Promise<string[]> {
  const r = await tryRun('dig', [`@${server}`, '-p', String(port), '+time=3', '+tries=1', ...args], { timeoutMs: 15_000 })
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '')
}

/**
 * A tiny upstream resolver on loopback (UDP and TCP on one port): answers A for
 * `names`, NXDOMAIN otherwise; `big.example.test` has 60 addresses, truncated
 * (TC, no answers) over UDP and whole over TCP; `silent` never answers.
 */
export async function fakeResolver (names: Record<string, string>, opts: { silent?: boolean, host?: string } = {}): Promise<{ port: number, queries: number, tcpQueries: number, close: () => Promise<void> }> {
  const sock: Socket = createSocket('udp4')
  const tcp = createTcpServer((c) => {
    c.on('error', () => {})
    c.once('data', (d: Buffer) => {
      state.tcpQueries++
      const reply = answer(d.subarray(2), true)
      if (reply === null) return
      const len = Buffer.alloc(2)
      len.writeUInt16BE(reply.length, 0)
      c.end(Buffer.concat([len, reply]))
    })
  })
  const state = {
    port: 0, queries: 0, tcpQueries: 0,
    close: async () => {
      await new Promise<void>((resolve) => sock.close(() => resolve()))
      await new Promise<void>((resolve) => tcp.close(() => resolve()))
    },
  }
  const answer = (msg: Buffer, overTcp: boolean): Buffer | null => {
    try {
      const q = dnsPacket.decode(msg)
      const question = q.questions![0]
      const name = question.name.toLowerCase()
      const ips = name === 'big.example.test' ? Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 1}`) : names[name] !== undefined ? [names[name]] : []
      const truncated = !overTcp && ips.length > 10
      return dnsPacket.encode({
        id: q.id, type: 'response',
        flags: dnsPacket.RECURSION_AVAILABLE | (ips.length === 0 ? 3 : 0) | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0),
        questions: [question],
        answers: question.type === 'A' && !truncated ? ips.map((ip) => ({ type: 'A' as const, name: question.name, ttl: 60, data: ip })) : [],
      })
    } catch { return null }
  }
  sock.on('message', (msg, rinfo) => {
    state.queries++
    if (opts.silent === true) return
    const reply = answer(msg, false)
    if (reply !== null) sock.send(reply, rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve) => sock.bind(0, opts.host ?? '127.0.0.1', resolve))
  state.port = sock.address().port
  await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen(state.port, opts.host ?? '127.0.0.1', resolve) })
  return state
}
