// Compare-and-set puts to one KV bucket, pipelined, without nats.js's
// per-request machinery: kv.put() runs two generator-based awaiters, a
// request object with its own timer, and on every answer builds a
// "cancelled" NatsError (a stack capture) that it throws away. Here one
// subscription takes every answer, a token in the reply subject finds the
// waiting write, and one sweep per second fails the writes that got no answer
// in time (the caller retries them, as it did kv.put()'s timeouts).
import { createInbox, headers, type KV, type Msg, type NatsConnection, type Subscription } from 'nats'
import { DriftgateError, ErrorCodes, TimeoutError } from '../core/index.js'

interface Waiting { resolve: (seq: number) => void, reject: (err: Error) => void, deadline: number }

/** What JetStream answers a publish with (its PubAck or an API error). */
interface PubAck { seq?: number, error?: { code: number, err_code?: number, description: string } }

// nats.js's own key rule (kv validateKey): a bad key must not become a wildcard subject.
const KEY = /^[-/=\w]+(\.[-/=\w]+)*$/

const EXPECTED_SEQ = 'Nats-Expected-Last-Subject-Sequence'

/** An error JetStream answered; `details` is its API error ({ code, err_code, description }). */
function apiError (e: NonNullable<PubAck['error']>): DriftgateError {
  return new DriftgateError(e.err_code === 10071 ? ErrorCodes.CONFLICT : ErrorCodes.NATS_UNAVAILABLE, e.description, e)
}

export class CasWriter {
  private readonly prefix: string
  private readonly inbox: string
  private readonly waiting = new Map<string, Waiting>()
  private sub?: Subscription
  private sweeper?: NodeJS.Timeout
  private next = 0

  constructor (private readonly nc: NatsConnection, kv: KV, private readonly timeoutMs = 5000, inboxPrefix?: string) {
    // The bucket's write subject prefix as kv.put() builds it: `$KV.<bucket>.` (or a mirror's edit prefix).
    const b = kv as unknown as { subjectForKey?: (k: string, edit: boolean) => string, bucket?: string }
    this.prefix = typeof b.subjectForKey === 'function' ? b.subjectForKey('_', true).slice(0, -1) : `$KV.${String(b.bucket)}.`
    this.inbox = `${createInbox(inboxPrefix)}.`
  }

  start (): void {
    if (this.sub != null) return
    this.sub = this.nc.subscribe(`${this.inbox}*`, { callback: (err, msg) => { this.answer(err, msg) } })
    this.sweeper = setInterval(() => { this.sweep(Date.now()) }, Math.min(1000, this.timeoutMs))
    this.sweeper.unref()
  }

  /** Writes `data` at `key` if the key's last revision is `previousSeq` (0: must not exist); resolves with the new revision. */
  put (key: string, data: Uint8Array, previousSeq: number): Promise<number> {
    if (this.sub == null) return Promise.reject(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'kv writer is not running'))
    if (!KEY.test(key)) return Promise.reject(new DriftgateError(ErrorCodes.VALIDATION, `invalid kv key: ${key.slice(0, 100)}`))
    const token = (this.next++).toString(36)
    const h = headers()
    h.set(EXPECTED_SEQ, String(previousSeq))
    return new Promise<number>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs })
      try {
        this.nc.publish(this.prefix + key, data, { reply: this.inbox + token, headers: h })
      } catch (err) { // closed or draining connection
        this.waiting.delete(token)
        reject(err as Error)
      }
    })
  }

  private answer (err: Error | null, msg: Msg): void {
    if (err != null) { this.failAll(err); return }
    const token = msg.subject.slice(this.inbox.length)
    const w = this.waiting.get(token)
    if (w == null) return // answered after it timed out
    this.waiting.delete(token)
    if (msg.data.length === 0) {
      // A status without payload: 503 = no JetStream behind the subject (yet).
      const code = msg.headers?.code ?? 0
      w.reject(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, code === 503 ? 'no responders' : `kv write: status ${code}`, { code }))
      return
    }
    let ack: PubAck
    try {
      ack = JSON.parse(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString('utf8')) as PubAck
    } catch {
      w.reject(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'kv write: unreadable answer'))
      return
    }
    if (ack.error != null) w.reject(apiError(ack.error))
    else if (typeof ack.seq !== 'number') w.reject(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'kv write: answer without a sequence'))
    else w.resolve(ack.seq)
  }

  // Tokens are issued in order with one timeout, so the map (insertion order) is sorted by deadline.
  private sweep (now: number): void {
    for (const [token, w] of this.waiting) {
      if (w.deadline > now) return
      this.waiting.delete(token)
      w.reject(new TimeoutError('kv write', this.timeoutMs))
    }
  }

  private failAll (err: Error): void {
    const all = [...this.waiting.values()]
    this.waiting.clear()
    for (const w of all) w.reject(err)
  }

  /** Idempotent; writes still waiting fail (their messages are nak'ed or redelivered). */
  close (): void {
    if (this.sweeper != null) clearInterval(this.sweeper)
    this.sub?.unsubscribe()
    this.sub = undefined
    this.failAll(new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'kv writer closed'))
  }
}
