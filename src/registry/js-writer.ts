// Pipelined JetStream publishes that wait for the stream's answer, without
// nats.js's per-request machinery: js.publish() runs generator-based
// awaiters, a request object with its own timer, and on every answer builds a
// "cancelled" NatsError (a stack capture) that it throws away. Here one
// subscription takes every answer, a token in the reply subject finds the
// waiting publish, and one sweep per second fails the publishes that got no
// answer in time (callers retry them, as they did js.publish()'s timeouts).
// The registry's KV writes (CasWriter) and activity lines go through one.
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats'
import { DriftgateError, ErrorCodes, TimeoutError } from '../core/index.js'
import { oneHeader } from './one-header.js'

interface Waiting { resolve: (seq: number) => void, reject: (err: Error) => void, deadline: number }

/** What JetStream answers a publish with (its PubAck, or an API error). */
interface PubAck { seq?: number, error?: { code: number, err_code?: number, description: string } }

/** An error JetStream answered; `details` is its API error ({ code, err_code, description }). */
function apiError (e: NonNullable<PubAck['error']>): DriftgateError {
  return new DriftgateError(e.err_code === 10071 ? ErrorCodes.CONFLICT : ErrorCodes.NATS_UNAVAILABLE, e.description, e)
}

/** Headers with the message id added; one id alone skips building a MsgHdrs (one-header.ts). */
function withMsgId (headers: MsgHdrs | undefined, msgID: string | undefined): MsgHdrs | undefined {
  if (msgID === undefined) return headers
  if (headers === undefined) return oneHeader('Nats-Msg-Id', msgID)
  headers.set('Nats-Msg-Id', msgID)
  return headers
}

const SEQ = Buffer.from('"seq":')
const ERROR = Buffer.from('"error"')

/**
 * A PubAck, `{"stream":…,"seq":N…}`: the sequence is read from the bytes
 * without JSON.parse when the answer has no error (one per KV write); anything
 * else goes through JSON.parse.
 */
export function readPubAck (data: Uint8Array): PubAck {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const at = b.indexOf(SEQ)
  if (at >= 0 && b.indexOf(ERROR) < 0) {
    let seq = 0
    let i = at + SEQ.length
    const start = i
    for (; i < b.length && b[i] >= 48 && b[i] <= 57; i++) seq = seq * 10 + b[i] - 48
    const end = b[i]
    if (i > start && i - start <= 15 && (end === 44 || end === 125)) return { seq } // followed by , or }
  }
  return JSON.parse(b.toString('utf8')) as PubAck
}

export class JsWriter {
  private readonly inbox: string
  private readonly waiting = new Map<string, Waiting>()
  private sub?: Subscription
  private sweeper?: NodeJS.Timeout
  private next = 0

  constructor (private readonly nc: NatsConnection, readonly timeoutMs = 5000, inboxPrefix?: string) {
    this.inbox = `${createInbox(inboxPrefix)}.`
  }

  /** Idempotent. */
  start (): void {
    if (this.sub != null) return
    this.sub = this.nc.subscribe(`${this.inbox}*`, { callback: (err, msg) => { this.answer(err, msg) } })
    this.sweeper = setInterval(() => { this.sweep(Date.now()) }, Math.min(1000, this.timeoutMs))
    this.sweeper.unref()
  }

  /**
   * Publishes to a stream subject (the options of js.publish() it needs: a
   * message id, headers); resolves with the stream sequence it got, rejects
   * with what the stream answered.
   */
  publish (subject: string, data: Uint8Array, opts: { msgID?: string, headers?: MsgHdrs } = {}): Promise<number> {
    if (this.sub == null) return Promise.reject(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'jetstream writer is not running'))
    const headers = withMsgId(opts.headers, opts.msgID)
    const token = (this.next++).toString(36)
    return new Promise<number>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs })
      try {
        this.nc.publish(subject, data, { reply: this.inbox + token, headers })
      } catch (err) { // closed or draining connection
        this.waiting.delete(token)
        reject(err as Error)
      }
    })
  }

  /**
   * Publishes to a stream subject without asking for the stream's answer (no
   * reply subject, no waiting, nothing parsed back): for messages whose loss
   * is only counted, never retried (activity lines). Throws on a closed connection.
   */
  fire (subject: string, data: Uint8Array, opts: { msgID?: string } = {}): void {
    this.nc.publish(subject, data, { headers: withMsgId(undefined, opts.msgID) })
  }

  private answer (err: Error | null, msg: Msg): void {
    if (err != null) { this.failAll(err); return }
    const token = msg.subject.slice(this.inbox.length)
    const w = this.waiting.get(token)
    if (w == null) return // answered after it timed out
    this.waiting.delete(token)
    if (msg.data.length === 0) {
      // A status without payload: 503 = no stream behind the subject (yet).
      const code = msg.headers?.code ?? 0
      w.reject(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, code === 503 ? 'no responders' : `jetstream publish: status ${code}`, { code }))
      return
    }
    let ack: PubAck
    try {
      ack = readPubAck(msg.data)
    } catch {
      w.reject(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'jetstream publish: unreadable answer'))
      return
    }
    if (ack.error != null) w.reject(apiError(ack.error))
    else if (typeof ack.seq !== 'number') w.reject(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'jetstream publish: answer without a sequence'))
    else w.resolve(ack.seq)
  }

  // Tokens are issued in order with one timeout, so the map (insertion order) is sorted by deadline.
  private sweep (now: number): void {
    for (const [token, w] of this.waiting) {
      if (w.deadline > now) return
      this.waiting.delete(token)
      w.reject(new TimeoutError('jetstream publish', this.timeoutMs))
    }
  }

  private failAll (err: Error): void {
    const all = [...this.waiting.values()]
    this.waiting.clear()
    for (const w of all) w.reject(err)
  }

  /** Idempotent; publishes still waiting fail (their messages are nak'ed or redelivered). */
  close (): void {
    if (this.sweeper != null) clearInterval(this.sweeper)
    this.sub?.unsubscribe()
    this.sub = undefined
    this.failAll(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'jetstream writer closed'))
  }
}
