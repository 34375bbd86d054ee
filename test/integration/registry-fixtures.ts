// Shared by the registry integration tests and bench/ingest.ts: a scripted
// agent (publishes events, snapshots and heartbeats like a real one), a
// registry instance on its own connection, and a read of the true KV table.
import { connect, type NatsConnection } from 'nats'
import { encodeJson, openBucket, Buckets } from '../../src/bus/index.js'
import { createRegistry, resolveRegistryConfig, type DriftgateRegistry, type RegistryConfig } from '../../src/registry/index.js'
import { newInstanceId, silentLogger, type EndpointInfo, type EndpointRecord, type EventMessage, type Logger } from '../../src/core/index.js'

export const cid = (n: number): string => n.toString(16).padStart(64, '0')

export function endpoint (service: string, n: number, ipLast = n % 250 + 2): EndpointInfo {
  return {
    service, containerId: cid(n), ip: `10.240.${Math.floor(n / 250) % 250}.${ipLast}`,
    mac: '02:42:0a:f0:00:01', port: 80, network: 'mv0', state: 'running', health: 'none', weight: 1,
  }
}

/** Publishes what an agent of `host` would, with its own instance id and sequence. */
export class ScriptedAgent {
  seq = 0
  instance: string
  constructor (readonly nc: NatsConnection, readonly host: string, instance?: string) {
    this.instance = instance ?? newInstanceId()
  }

  /** A new agent run: newer instance id, sequence from 1. */
  restart (): void { this.instance = newInstanceId(Date.now() + 1); this.seq = 0 }

  event (kind: 'upsert' | 'remove', ep: EndpointInfo, seq = ++this.seq): EventMessage {
    const now = Date.now()
    return {
      v: 1, kind, host: this.host, instance: this.instance, seq, time: now, sentAt: now,
      endpoint: kind === 'upsert' ? ep : { service: ep.service, containerId: ep.containerId },
    }
  }

  async publish (msg: unknown, subjectHost = this.host, kind = 'events'): Promise<void> {
    await this.nc.jetstream().publish(`driftgate.${kind}.${subjectHost}`, msg instanceof Uint8Array ? msg : encodeJson(msg))
  }

  async upsert (ep: EndpointInfo): Promise<EventMessage> { const m = this.event('upsert', ep); await this.publish(m); return m }
  async remove (ep: EndpointInfo): Promise<EventMessage> { const m = this.event('remove', ep); await this.publish(m); return m }

  async snapshot (eps: EndpointInfo[]): Promise<void> {
    const now = Date.now()
    await this.publish({
      v: 1, host: this.host, instance: this.instance, seq: ++this.seq, time: now, sentAt: now,
      endpoints: eps, containers: eps.map((e) => e.containerId),
    }, this.host, 'snapshot')
  }

  heartbeat (): void {
    this.nc.publish(`driftgate.heartbeat.${this.host}`, encodeJson({
      v: 1, host: this.host, instance: this.instance, sentAt: Date.now(),
      capacity: { cpus: 2, memoryBytes: 2e9 }, allocated: { cpus: 0, memoryBytes: 0, containers: 0 }, labels: {},
    }))
  }
}

export interface TestRegistry { reg: DriftgateRegistry, nc: NatsConnection, kill: () => Promise<void>, close: () => Promise<void> }

/**
 * A registry instance with its own connection. `kill` closes that connection
 * first, abruptly (in-flight writes fail, nothing is acked), like a crash.
 */
export async function startRegistry (servers: string | string[], cfg: Partial<RegistryConfig> = {}, log: Logger = silentLogger()): Promise<TestRegistry> {
  // noAsyncTraces: no stack captured per request (two Error objects per KV write otherwise).
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true })
  const reg = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, ...cfg }), { nc, log, components: [] })
  try { await reg.start() } catch (err) { await reg.close(); await nc.close(); throw err }
  return {
    reg,
    nc,
    kill: async () => { await nc.close(); await reg.close() },
    close: async () => { await reg.close(); await nc.drain().catch(() => undefined) },
  }
}

/** The live endpoints in KV, read fresh from the server: key → ip. */
export async function liveTable (nc: NatsConnection): Promise<Map<string, EndpointRecord>> {
  const kv = await openBucket(nc, Buckets.endpoints)
  const out = new Map<string, EndpointRecord>()
  const keys: string[] = []
  for await (const k of await kv.keys()) keys.push(k)
  await Promise.all(keys.map(async (k) => {
    const e = await kv.get(k)
    if (e == null || e.operation !== 'PUT') return
    const rec = e.json<EndpointRecord>()
    if (rec.removed !== true) out.set(k, rec)
  }))
  return out
}

export async function waitUntil (check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Sum of one counter (all label sets, or those matching `labels`) from a prom Registry. */
export async function counter (reg: DriftgateRegistry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await reg.metrics.getSingleMetric(name)?.get()
  if (m == null) return 0
  return m.values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .filter((v) => !('metricName' in v) || v.metricName === name || v.metricName === undefined)
    .reduce((s, v) => s + v.value, 0)
}
