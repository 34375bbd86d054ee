// Shared by the agent integration tests: one single-host testbed whose
// MacVLAN network spans the whole /24 (200 containers do not fit the
// harness's per-host /27), a nats-server, an embedded agent and a subscriber
// that records every message with its arrival time.
import Dockerode from 'dockerode'
import { connect, type NatsConnection, type Subscription } from 'nats'
import { pino } from 'pino'
import { Testbed, startNats, waitFor, type NatsServer } from '../harness/index.js'
import { createAgent, resolveAgentConfig, type Agent, type AgentConfig, type AgentDeps } from '../../src/agent/index.js'
import { decodeJson, subjects } from '../../src/bus/index.js'

export const NET = 'mv0'
export const HOST = 'h1'

export interface Received { subject: string, value: any, at: number }

export class Recorder {
  readonly msgs: Received[] = []
  private sub?: Subscription
  constructor (private readonly nc: NatsConnection, private readonly subject: string) {}
  start (): void {
    this.sub = this.nc.subscribe(this.subject)
    void (async () => {
      for await (const m of this.sub!) {
        const d = decodeJson(m.data)
        if (d.ok) this.msgs.push({ subject: m.subject, value: d.value, at: Date.now() })
      }
    })()
  }
  events (): Received[] { return this.msgs.filter((m) => m.subject.includes('.events.')) }
  snapshots (): Received[] { return this.msgs.filter((m) => m.subject.includes('.snapshot.')) }
  heartbeats (): Received[] { return this.msgs.filter((m) => m.subject.includes('.heartbeat.')) }
  forContainer (id: string): Received[] { return this.events().filter((m) => m.value.endpoint.containerId === id) }
  async waitEvent (pred: (v: any) => boolean, what: string, timeoutMs = 5000): Promise<Received> {
    return await waitFor(() => this.events().find((m) => pred(m.value)), { timeoutMs, intervalMs: 20, what })
  }
  async waitSnapshot (after: number, pred: (v: any) => boolean = () => true, timeoutMs = 20_000): Promise<Received> {
    return await waitFor(() => this.snapshots().find((m) => m.at > after && pred(m.value)), { timeoutMs, intervalMs: 50, what: 'snapshot' })
  }
  stop (): void { this.sub?.unsubscribe() }
}

export interface Fixture {
  tb: Testbed
  nats: NatsServer
  nc: NatsConnection
  docker: Dockerode
  rec: Recorder
  agent: Agent
  config: Partial<AgentConfig>
  startAgent: (deps?: AgentDeps) => Promise<Agent>
  teardown: () => Promise<void>
}

export function testLogger (): pino.Logger {
  return pino({ level: process.env.AGENT_LOG ?? 'warn' }, pino.destination(2))
}

export async function setupFixture (over: Partial<AgentConfig> = {}): Promise<Fixture> {
  const tb = await Testbed.create({ hosts: 1, network: false, name: 'agent-test' })
  let nats: NatsServer | undefined
  let nc: NatsConnection | undefined
  const agents: Agent[] = []
  try {
    const h = tb.hosts[0]
    // Whole /24 for one host; the host's own LAN address is kept out of Docker's pool.
    await tb.docker(h)('network', 'create', '-d', 'macvlan', '--subnet', tb.subnet, '--gateway', tb.gateway,
      '--aux-address', `self=${h.address}`, '-o', 'parent=eth0', NET)
    nats = await startNats()
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
    const rec = new Recorder(nc, `${subjects().prefix}.*.${HOST}`)
    rec.start()
    const docker = new Dockerode({ socketPath: h.socketPath })
    const config: Partial<AgentConfig> = {
      hostId: HOST, nats: nats.url, docker: h.socketPath, resyncInterval: '10m', heartbeatInterval: '500ms', watchdog: '5s', ipamDriver: false, ...over,
    }
    const fx: Fixture = {
      tb, nats, nc, docker, rec, config, agent: undefined as unknown as Agent,
      startAgent: async (deps = {}) => {
        const a = createAgent(resolveAgentConfig(config), { log: testLogger(), ...deps })
        agents.push(a)
        await a.start()
        return a
      },
      teardown: async () => {
        for (const a of agents) await a.close().catch(() => {})
        rec.stop()
        await nc?.close().catch(() => {})
        await nats?.stop()
        await tb.teardown()
      },
    }
    return fx
  } catch (err) {
    for (const a of agents) await a.close().catch(() => {})
    await nc?.close().catch(() => {})
    await nats?.stop().catch(() => {})
    await tb.teardown()
    throw err
  }
}
