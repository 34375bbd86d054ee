// Numbers and publishes the agent's messages. Sequence numbers are handed out
// and the message is handed to the NATS client in the same synchronous step,
// so the order on the wire (and in the stream) is the order of `seq`.
// Events and snapshots go through JetStream (acknowledged by DRIFTGATE_EVENTS,
// de-duplicated by msgID `<instance>-<seq>`); heartbeats are core publishes.
import type { JetStreamClient, NatsConnection } from 'nats'
import { settleWithin, type EndpointInfo, type EventMessage, type HeartbeatMessage, type Logger, type SnapshotMessage } from '../core/index.js'
import { encodeJson, type Subjects } from '../bus/index.js'
import type { AgentMetrics } from './metrics.js'

export interface PublisherOptions {
  nc: NatsConnection
  js: JetStreamClient
  subjects: Subjects
  host: string
  instance: string
  metrics: AgentMetrics
  log: Logger
  /** Called when a publish was not acknowledged: the caller schedules a healing snapshot. */
  onFailure: (kind: string, err: Error) => void
  /** Wall-clock milliseconds with sub-ms precision. */
  now: () => number
}

export type EventBody = { kind: 'upsert', endpoint: EndpointInfo } | { kind: 'remove', endpoint: { service: string, containerId: string } }

export class Publisher {
  private seq = 0
  private readonly pending = new Set<Promise<unknown>>()

  constructor (private readonly o: PublisherOptions) {}

  /** Publishes one event; resolves true once JetStream acknowledged it. */
  publishEvent (body: EventBody, dockerTime: number, cause: string): { seq: number, sentAt: number, acked: Promise<boolean> } {
    const sentAt = this.o.now()
    const msg: EventMessage = {
      v: 1,
      kind: body.kind,
      host: this.o.host,
      instance: this.o.instance,
      seq: ++this.seq,
      time: dockerTime,
      sentAt,
      endpoint: body.endpoint,
      cause: cause.slice(0, 64),
    }
    return { seq: msg.seq, sentAt, acked: this.send(body.kind, this.o.subjects.events(this.o.host), msg, msg.seq) }
  }

  publishSnapshot (endpoints: EndpointInfo[], containers: string[]): { seq: number, acked: Promise<boolean> } {
    const now = this.o.now()
    const msg: SnapshotMessage = {
      v: 1, host: this.o.host, instance: this.o.instance, seq: ++this.seq, time: now, sentAt: now, endpoints, containers,
    }
    return { seq: msg.seq, acked: this.send('snapshot', this.o.subjects.snapshot(this.o.host), msg, msg.seq) }
  }

  heartbeat (msg: HeartbeatMessage): void {
    try {
      this.o.nc.publish(this.o.subjects.heartbeat(this.o.host), encodeJson(msg))
      this.o.metrics.published.inc({ kind: 'heartbeat' })
    } catch (err) {
      // Only fails when the connection is closed; the next beat tries again.
      this.o.log.debug({ err: (err as Error).message }, 'heartbeat not sent')
    }
  }

  private send (kind: string, subject: string, msg: object, seq: number): Promise<boolean> {
    const started = this.o.now()
    let p: Promise<boolean>
    try {
      p = this.o.js.publish(subject, encodeJson(msg), { msgID: `${this.o.instance}-${seq}` }).then(() => {
        this.o.metrics.published.inc({ kind })
        this.o.metrics.publishLatency.observe({ kind }, (this.o.now() - started) / 1000)
        return true
      }, (err: Error) => this.failed(kind, seq, err))
    } catch (err) {
      p = Promise.resolve(this.failed(kind, seq, err as Error))
    }
    this.pending.add(p)
    void p.finally(() => this.pending.delete(p))
    return p
  }

  private failed (kind: string, seq: number, err: Error): false {
    this.o.metrics.publishFailed.inc({ kind })
    this.o.log.warn({ kind, seq, err: err.message }, 'publish not acknowledged')
    this.o.onFailure(kind, err)
    return false
  }

  /** Waits (bounded) for outstanding acknowledgements, for a clean close. */
  async drain (timeoutMs = 2000): Promise<void> {
    if (this.pending.size === 0) return
    await settleWithin(this.pending, timeoutMs)
  }
}
