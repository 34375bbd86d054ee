// Ingest: the one durable pull consumer `registry` on DRIFTGATE_EVENTS, shared
// by every registry instance (the server hands each message to one of them).
// Messages are parsed, checked and applied; invalid ones are terminated so
// they are never redelivered; failed applies are nak'ed and come back.
import { AckPolicy, DeliverPolicy, nanos, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats'
import { LogOnce, settleWithin, type EndpointRecord, type Logger, type SnapshotMessage } from '../core/index.js'
import { STREAM, type Subjects } from '../bus/index.js'
import { fromEvent, fromSnapshot } from './decide.js'
import { parseStreamMessage, type Invalid } from './parse.js'
import type { EndpointApplier } from './applier.js'
import type { VersionedStore } from './store.js'
import type { RegistryMetrics } from './metrics.js'
import { SnapshotGate } from './snapshot-gate.js'

export const CONSUMER = 'registry'

export interface IngestOptions {
  nc: NatsConnection
  store: VersionedStore<EndpointRecord>
  applier: EndpointApplier
  metrics: RegistryMetrics
  log: Logger
  subjects: Subjects
  ackWaitMs: number
  maxAckPending: number
}

/** Creates the shared durable if missing; an existing one is kept (its ack wait updated). */
export async function ensureConsumer (nc: NatsConnection, opts: { ackWaitMs: number, maxAckPending: number }, log: Logger): Promise<void> {
  const jsm = await nc.jetstreamManager()
  const wanted = { ack_wait: nanos(opts.ackWaitMs), max_ack_pending: opts.maxAckPending }
  try {
    const info = await jsm.consumers.info(STREAM, CONSUMER)
    if (info.config.ack_wait !== wanted.ack_wait || info.config.max_ack_pending !== wanted.max_ack_pending) {
      await jsm.consumers.update(STREAM, CONSUMER, wanted).catch((err: Error) => {
        log.warn({ err: err.message }, 'cannot update the registry consumer; keeping its settings')
      })
    }
    return
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err
  }
  try {
    await jsm.consumers.add(STREAM, {
      durable_name: CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_deliver: -1, // a message whose apply failed (NATS hiccup) is retried until it applies
      ...wanted,
    })
  } catch (err) {
    // Another instance starting at the same moment created it first: fine.
    await jsm.consumers.info(STREAM, CONSUMER).catch(() => { throw err })
  }
}

/** Acks (or naks for a retry in 1 s); on a closed connection the server redelivers after ack wait anyway. */
function settle (m: JsMsg, how: 'ack' | 'nak'): void {
  try { if (how === 'ack') m.ack(); else m.nak(1000) } catch { /* connection closed */ }
}

export class Ingest {
  private messages?: ConsumerMessages
  /** Messages in hand; close() waits (bounded) until it is 0. */
  private inflight = 0
  private idle?: () => void
  private readonly once: LogOnce
  private closed = false
  /** Bounds the snapshot bytes decoded and applied at once (a fill's burst; snapshot-gate.ts). */
  readonly snapshots = new SnapshotGate()
  private readonly snapshotPrefix: string

  constructor (private readonly opts: IngestOptions) {
    this.once = new LogOnce(opts.log)
    this.snapshotPrefix = `${opts.subjects.prefix}.snapshot.`
  }

  async start (): Promise<void> {
    const { nc, log } = this.opts
    await ensureConsumer(nc, this.opts, log)
    const consumer = await nc.jetstream().consumers.get(STREAM, CONSUMER)
    this.messages = await consumer.consume({
      max_messages: Math.min(1000, this.opts.maxAckPending),
      callback: (m) => { this.handle(m) },
    })
    void this.watchStatus(this.messages)
    log.info({ stream: STREAM, consumer: CONSUMER }, 'ingest started')
  }

  private async watchStatus (messages: ConsumerMessages): Promise<void> {
    for await (const s of await messages.status()) {
      if (s.type === 'heartbeats_missed' || s.type === 'consumer_not_found' || s.type === 'stream_not_found' || s.type === 'consumer_deleted') {
        this.opts.log.warn({ event: s.type, data: s.data }, 'ingest consumer status')
      }
    }
  }

  /**
   * Never throws: a bad message is counted and terminated, a failed apply is
   * retried later. A snapshot first waits for room, still undecoded
   * (snapshot-gate.ts: a fill's burst), kept alive meanwhile.
   */
  private handle (m: JsMsg): void {
    if (this.closed) return
    if (!m.subject.startsWith(this.snapshotPrefix)) { void this.process(m); return }
    void this.keepAlive(m, this.snapshots.run(m.data.length, async () => { await this.process(m) }))
  }

  /** One promise chain per message (no wrapper per step): at thousands of events per second each extra promise is measurable. Settles once acked or nak'ed. */
  private process (m: JsMsg): Promise<void> {
    if (this.closed) return Promise.resolve()
    let work: Promise<unknown>
    let sentAt = 0
    try {
      const parsed = parseStreamMessage(m.subject, m.data, this.opts.subjects)
      if (!parsed.ok) { this.reject(m, parsed); return Promise.resolve() }
      const v = parsed.value
      sentAt = v.msg.sentAt
      work = v.type === 'event' ? this.opts.applier.apply(fromEvent(v.msg)) : this.applySnapshot(v.msg)
    } catch (err) {
      work = Promise.reject(err)
    }
    this.inflight++
    return work.then(() => {
      this.settled()
      this.observeLatency(sentAt)
      settle(m, 'ack')
    }, (err: unknown) => {
      this.settled()
      if (this.closed) return // closing: the message is redelivered after ack wait
      this.opts.log.warn({ err: (err as Error).message, subject: m.subject, redelivered: m.info.redeliveryCount }, 'apply failed; will retry')
      settle(m, 'nak')
    })
  }

  private settled (): void {
    if (--this.inflight === 0) this.idle?.()
  }

  // A large snapshot may take longer than the ack wait: tell the server we are
  // still on it, so it is not handed to another instance meanwhile.
  private async keepAlive (m: JsMsg, work: Promise<void>): Promise<void> {
    const timer = setInterval(() => { m.working() }, Math.max(1000, this.opts.ackWaitMs / 3))
    try { await work } finally { clearInterval(timer) }
  }

  private reject (m: JsMsg, bad: Invalid): void {
    const type = m.subject.split('.').slice(-2, -1)[0] ?? 'unknown'
    this.opts.metrics.invalidMessages.inc({ reason: bad.reason, type })
    this.once.warn(bad.reason, { subject: m.subject, detail: bad.detail }, 'invalid message dropped')
    m.term()
  }

  private async applySnapshot (msg: SnapshotMessage): Promise<void> {
    const { store, applier, metrics, log } = this.opts
    // Find the host's keys from an up-to-date mirror, so that a record written
    // a moment ago by another instance is not missed.
    if (!await store.sync()) log.warn({ host: msg.host }, 'endpoint mirror lagging; applying snapshot from what it has')
    // The host's keys: those the table holds, and those with a change still
    // being applied here (not in the table yet: applier.keysInFlight).
    const changes = fromSnapshot(msg, new Set([...store.keysFor(msg.host), ...applier.keysInFlight(msg.host)]))
    await Promise.all(changes.map(async (c) => await applier.apply(c)))
    metrics.snapshotsApplied.inc()
    log.debug({ host: msg.host, seq: msg.seq, endpoints: msg.endpoints.length, changes: changes.length }, 'snapshot applied')
  }

  private observeLatency (sentAt: number): void {
    this.opts.metrics.applyLatency.observe(Math.max(0, Date.now() - sentAt) / 1000)
  }

  /** Stops taking messages and waits (bounded) for those in hand. */
  async close (): Promise<void> {
    if (this.messages == null || this.closed) { this.closed = true; return }
    this.closed = true
    await this.messages.close().catch(() => undefined)
    if (this.inflight > 0) await settleWithin([new Promise<void>((resolve) => { this.idle = resolve })], 5000)
  }
}
