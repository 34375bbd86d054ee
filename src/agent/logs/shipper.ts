// Publishes batches to DRIFTGATE_LOGS, one container's batches strictly in
// order (one in flight per container, so the stream's last message is
// always a valid cursor), retrying until JetStream acks. While NATS is away
// batches wait in memory up to a byte budget shared by all containers;
// beyond it lines are dropped, counted, and a marker goes out with the next
// batch that fits.
import type { JetStreamClient } from 'nats'
import { backoffDelay, Sleeper, type Logger } from '../../core/index.js'
import { cursorAfter, type Cursor } from './cursor.js'
import { dropMarker, lineBytes, type LogBatch, type LogLine } from './record.js'

export interface ShipperMetrics {
  shipped: (lines: number, bytes: number) => void
  dropped: (reason: 'buffer' | 'rate', lines: number) => void
  buffered: (bytes: number) => void
  publishFailed: () => void
}

export interface ShipperOptions {
  js: JetStreamClient
  log: Logger
  budgetBytes: number
  metrics: ShipperMetrics
}

export interface Channel {
  subject: string
  head: Omit<LogBatch, 'lines'>
  queue: Array<{ lines: LogLine[], bytes: number }>
  /** Lines dropped (buffer full or rate limit) not yet announced by a marker. */
  pending: { n: number, why: Set<string> }
  /** Cursor after the last batch accepted (queued or stored): a follower restarted before the queue drains resumes from here. */
  cursor?: Cursor
  running: boolean
}

export class Shipper {
  private buffered = 0
  private closed = false
  private readonly sleeper = new Sleeper()
  private readonly channels = new Map<string, Channel>()

  constructor (private readonly o: ShipperOptions) {}

  channel (subject: string, head: Omit<LogBatch, 'lines'>): Channel {
    let c = this.channels.get(subject)
    if (c === undefined) {
      c = { subject, head, queue: [], pending: { n: 0, why: new Set() }, running: false }
      this.channels.set(subject, c)
    }
    return c
  }

  /** Lines a rate limit dropped: announced with the next batch. */
  noteDropped (c: Channel, n: number, why: 'rate' | 'buffer'): void {
    c.pending.n += n
    c.pending.why.add(why === 'rate' ? 'rate limit' : 'buffer full')
    this.o.metrics.dropped(why, n)
  }

  /** Queues a batch, or drops it (counted) when the budget is spent. */
  offer (c: Channel, lines: LogLine[], bytes: number): void {
    if (this.closed) return
    if (this.buffered + bytes > this.o.budgetBytes) { this.noteDropped(c, lines.length, 'buffer'); return }
    if (c.pending.n > 0) {
      const m = dropMarker(lines[0].t, c.pending.n, [...c.pending.why].join(', '))
      lines = [m, ...lines]
      bytes += lineBytes(m)
      c.pending = { n: 0, why: new Set() }
    }
    c.cursor = cursorAfter(lines, c.cursor)
    c.queue.push({ lines, bytes })
    this.buffered += bytes
    this.o.metrics.buffered(this.buffered)
    if (!c.running) void this.drain(c)
  }

  private async drain (c: Channel): Promise<void> {
    c.running = true
    for (let attempt = 0; c.queue.length > 0 && !this.closed;) {
      const b = c.queue[0]
      try {
        const first = b.lines[0]
        const last = b.lines[b.lines.length - 1]
        await this.o.js.publish(c.subject, JSON.stringify({ ...c.head, lines: b.lines }), {
          // A retry after a lost ack is stored once (the stream's duplicate window).
          msgID: `${c.head.container}.${first.t}.${last.t}.${b.lines.length}`,
          timeout: 5000,
        })
        c.queue.shift()
        this.buffered -= b.bytes
        this.o.metrics.buffered(this.buffered)
        this.o.metrics.shipped(b.lines.length, b.bytes)
        attempt = 0
      } catch (err) {
        this.o.metrics.publishFailed()
        const delay = backoffDelay(++attempt, { baseMs: 100, maxMs: 2000 })
        if (attempt === 1 || attempt % 20 === 0) this.o.log.warn({ subject: c.subject, attempt, err: (err as Error).message }, 'logs: publish failed, keeping the batch')
        await this.sleeper.sleep(delay)
      }
    }
    c.running = false
  }

  /** Resolves when every queued batch is stored (or the timeout passes). */
  async flushed (timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if ([...this.channels.values()].every((c) => c.queue.length === 0)) return true
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return false
  }

  /** Forgets a container whose follower ended and whose queue is empty. */
  forget (subject: string): void {
    const c = this.channels.get(subject)
    if (c !== undefined && c.queue.length === 0 && !c.running) this.channels.delete(subject)
  }

  get bufferedBytes (): number { return this.buffered }

  close (): void {
    this.closed = true
    this.sleeper.wakeAll()
  }
}
