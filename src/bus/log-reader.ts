// Reads DRIFTGATE_LOGS through an ephemeral pull consumer (no acks, removed
// by the server when idle). Its creation reports how many messages match,
// which is how a reader knows where the history ends: an ordered consumer's
// info() hangs before its first fetch in nats.js 2.x.
import type { ConsumerMessages, NatsConnection } from 'nats'
import { AckPolicy, DeliverPolicy, nanos } from 'nats'
import { LOG_STREAM } from './buckets.js'

export interface LogReader {
  /** Messages stored that match, when the reader was opened. */
  pending: number
  messages: ConsumerMessages
  close: () => Promise<void>
}

export async function openLogReader (nc: NatsConnection, o: { filter: string, startTime?: Date }): Promise<LogReader> {
  const jsm = await nc.jetstreamManager()
  const ci = await jsm.consumers.add(LOG_STREAM, {
    filter_subject: o.filter,
    ack_policy: AckPolicy.None,
    mem_storage: true,
    inactive_threshold: nanos(30_000),
    ...(o.startTime !== undefined ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: o.startTime.toISOString() } : { deliver_policy: DeliverPolicy.All }),
  })
  const consumer = await nc.jetstream().consumers.get(LOG_STREAM, ci.name)
  const messages = await consumer.consume({ max_messages: 256 })
  let closed = false
  return {
    pending: ci.num_pending,
    messages,
    close: async () => {
      if (closed) return
      closed = true
      // stop(), not close(): close() never resolves once a for-await loop has broken out (nats.js 2.x).
      messages.stop()
      await jsm.consumers.delete(LOG_STREAM, ci.name).catch(() => { /* gone already: inactive threshold */ })
    },
  }
}
