// The load generator of bench/scale: N simulated agents, each with its own
// host id, instance id and sequence numbers, publishing only on its own
// subjects (events.<host>, snapshot.<host>, heartbeat.<host>) the messages a
// real agent sends (src/core types), and holding the truth: which containers
// run where. Publishes are pipelined like the agent's publisher (msgID
// `<instance>-<seq>`); a failed publish is retried with the same msgID and
// followed by a snapshot, as the agent does after a failure.
import { randomBytes } from 'node:crypto'
import type { JetStreamClient, NatsConnection } from 'nats'
import { encodeJson } from '../../src/bus/index.js'
import { newInstanceId, type EndpointInfo, type EventMessage, type HeartbeatMessage, type SnapshotMessage } from '../../src/core/index.js'

export const nowMs = (): number => performance.timeOrigin + performance.now()
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** One published event, for latency: matched to its KV write by key, instance and seq. */
export interface Sent { key: string, instance: string, seq: number, at: number, tag: string }

export class SimHost {
  readonly instance = newInstanceId()
  seq = 0
  readonly containers = new Map<string, EndpointInfo>()
  silent = false
  nextHeartbeat = 0
  nextSnapshot = 0
  constructor (readonly host: string, readonly nc: NatsConnection, readonly js: JetStreamClient) {}
}

export interface FleetOptions {
  hosts: number
  services: number
  heartbeatMs: number
  snapshotMs: number
  onSent: (s: Sent) => void
}

export class Fleet {
  readonly hosts: SimHost[]
  /** Live containers per service (stops keep at least one, so no service vanishes and forces a reload). */
  readonly perService: number[]
  private ipCounter = 1
  private timer?: NodeJS.Timeout
  private readonly pending = new Set<Promise<unknown>>()
  failures = 0
  tag = 'fill'
  private closed = false

  constructor (conns: NatsConnection[], private readonly o: FleetOptions) {
    this.hosts = Array.from({ length: o.hosts }, (_, i) => {
      const nc = conns[i % conns.length]
      return new SimHost(`h${String(i).padStart(4, '0')}`, nc, nc.jetstream())
    })
    this.perService = new Array<number>(o.services).fill(0)
  }

  private newEndpoint (service: number): EndpointInfo {
    let n = this.ipCounter++
    while ((n & 255) === 0 || (n & 255) === 255) n = this.ipCounter++
    return {
      service: `s${service}`, containerId: randomBytes(32).toString('hex'),
      ip: `10.${240 + ((n >> 16) & 7)}.${(n >> 8) & 255}.${n & 255}`, mac: '02:42:0a:f0:00:01',
      port: 80, network: 'mv0', state: 'running', health: 'none', weight: 1,
    }
  }

  /** Places `endpoints` containers round-robin over services and hosts (no message sent). */
  populate (endpoints: number): void {
    for (let i = 0; i < endpoints; i++) this.add(this.hosts[i % this.hosts.length], i % this.o.services)
  }

  private add (h: SimHost, service: number): EndpointInfo {
    const ep = this.newEndpoint(service)
    h.containers.set(ep.containerId, ep)
    this.perService[service]++
    return ep
  }

  private drop (h: SimHost, ep: EndpointInfo): void {
    h.containers.delete(ep.containerId)
    this.perService[Number(ep.service.slice(1))]--
  }

  /** service.containerId → endpoint, over every host (silent ones included: their Docker goes on). */
  truth (): Map<string, EndpointInfo & { host: string }> {
    const out = new Map<string, EndpointInfo & { host: string }>()
    for (const h of this.hosts) for (const ep of h.containers.values()) out.set(`${ep.service}.${ep.containerId}`, { ...ep, host: h.host })
    return out
  }

  private publish (h: SimHost, subject: string, msg: EventMessage | SnapshotMessage): void {
    const data = encodeJson(msg)
    const id = `${msg.instance}-${msg.seq}`
    const p = (async () => {
      for (let attempt = 0; ; attempt++) {
        try { await h.js.publish(subject, data, { msgID: id }); break } catch {
          if (this.closed) return
          this.failures++
          await sleep(250)
        }
        if (attempt === 0) this.afterFailure(h)
      }
    })()
    this.pending.add(p)
    void p.finally(() => this.pending.delete(p))
  }

  // As the agent: a publish that failed makes the next snapshot come soon.
  private afterFailure (h: SimHost): void { h.nextSnapshot = Math.min(h.nextSnapshot, nowMs() + 2000) }

  private event (h: SimHost, kind: 'upsert' | 'remove', ep: EndpointInfo): void {
    const now = nowMs()
    const msg: EventMessage = {
      v: 1, kind, host: h.host, instance: h.instance, seq: ++h.seq, time: now, sentAt: now,
      endpoint: kind === 'upsert' ? ep : { service: ep.service, containerId: ep.containerId },
    }
    this.o.onSent({ key: `${ep.service}.${ep.containerId}`, instance: h.instance, seq: msg.seq, at: now, tag: this.tag })
    this.publish(h, `driftgate.events.${h.host}`, msg)
  }

  snapshot (h: SimHost): void {
    const now = nowMs()
    const endpoints = [...h.containers.values()]
    this.publish(h, `driftgate.snapshot.${h.host}`, {
      v: 1, host: h.host, instance: h.instance, seq: ++h.seq, time: now, sentAt: now, endpoints, containers: endpoints.map((e) => e.containerId),
    })
  }

  private heartbeat (h: SimHost): void {
    const msg: HeartbeatMessage = {
      v: 1, host: h.host, instance: h.instance, sentAt: Date.now(),
      capacity: { cpus: 16, memoryBytes: 64e9 }, allocated: { cpus: 0, memoryBytes: 0, containers: h.containers.size }, labels: {},
    }
    try { h.nc.publish(`driftgate.heartbeat.${h.host}`, encodeJson(msg)) } catch { /* closed: the next beat tries again */ }
  }

  /** Heartbeats and periodic snapshots, staggered over their periods (one tick every 50 ms). */
  startTimers (): void {
    const t0 = nowMs()
    this.hosts.forEach((h, i) => {
      h.nextHeartbeat = t0 + (i / this.hosts.length) * this.o.heartbeatMs
      h.nextSnapshot = t0 + (i / this.hosts.length) * this.o.snapshotMs
    })
    this.timer = setInterval(() => {
      const now = nowMs()
      for (const h of this.hosts) {
        if (h.silent) continue
        if (now >= h.nextHeartbeat) { this.heartbeat(h); h.nextHeartbeat += this.o.heartbeatMs }
        if (now >= h.nextSnapshot) { this.snapshot(h); h.nextSnapshot = now + this.o.snapshotMs }
      }
    }, 50)
  }

  /** Every host announces itself: a heartbeat and a snapshot of what it runs (an agent's start). */
  announceAll (): void { for (const h of this.hosts) { this.heartbeat(h); this.snapshot(h) } }

  private pickHost (): SimHost | undefined {
    for (let i = 0; i < 20; i++) {
      const h = this.hosts[Math.floor(Math.random() * this.hosts.length)]
      if (!h.silent) return h
    }
    return undefined
  }

  /** A container that may stop: its service keeps at least one other. */
  private pickStoppable (h: SimHost): EndpointInfo | undefined {
    for (const ep of h.containers.values()) {
      if (this.perService[Number(ep.service.slice(1))] > 1 && Math.random() < 0.3) return ep
    }
    return undefined
  }

  /** One change: start 35 %, stop 35 %, move 30 % (a stop here and a start elsewhere: 2 events). Returns events sent. */
  change (): number {
    const h = this.pickHost()
    if (h === undefined) return 0
    const r = Math.random()
    if (r < 0.35) { this.event(h, 'upsert', this.add(h, Math.floor(Math.random() * this.o.services))); return 1 }
    const ep = this.pickStoppable(h)
    if (ep === undefined) return 0
    this.drop(h, ep)
    this.event(h, 'remove', ep)
    if (r < 0.7) return 1
    const to = this.pickHost()
    if (to === undefined) return 1
    this.event(to, 'upsert', this.add(to, Number(ep.service.slice(1))))
    return 2
  }

  /** A host falls silent (no heartbeat, no message): its Docker goes on, so its truth changes unseen. */
  silence (h: SimHost): void {
    h.silent = true
    const ep = this.pickStoppable(h)
    if (ep !== undefined) this.drop(h, ep)
    this.add(h, Math.floor(Math.random() * this.o.services))
  }

  /** Back: heartbeat and a snapshot carrying what changed meanwhile. */
  wake (h: SimHost): void {
    h.silent = false
    this.heartbeat(h)
    this.snapshot(h)
    h.nextHeartbeat = nowMs() + this.o.heartbeatMs
  }

  async flush (): Promise<void> { while (this.pending.size > 0) await Promise.allSettled([...this.pending]) }

  get inflight (): number { return this.pending.size }

  stop (): void {
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
