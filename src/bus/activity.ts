// The activity feed's JetStream stream: what happened in the cluster, for
// operators (GET /v1/events, the console, `driftgate status --watch`). Kept
// on disk for a bounded time and size, never in a process's memory. Every
// registry instance may publish the same fact: the message id (bucket, key,
// KV revision) lets JetStream keep one copy.
import type { JetStreamManager } from 'nats'
import { DiscardPolicy, RetentionPolicy, StorageType, nanos } from 'nats'
import { decodeJson, encodeJson } from './codec.js'
import { DEFAULT_PREFIX } from './subjects.js'

export const ACTIVITY_STREAM = 'DRIFTGATE_ACTIVITY'
export const ACTIVITY_MAX_AGE_MS = 24 * 3600_000
export const ACTIVITY_MAX_MSGS = 100_000
const MAX_BYTES = 64 * 1024 * 1024

export type ActivityKind = 'endpoint' | 'host' | 'placement' | 'spec' | 'render' | 'ipam' | 'autoscale' | 'site'

/** One fact; `seq` (the stream sequence) is the cursor clients pass back as `since`. */
export interface ActivityEvent {
  kind: ActivityKind
  at: number
  message: string
  service?: string
  host?: string
  renderer?: string
  data?: Record<string, unknown>
}

export interface StoredActivity extends ActivityEvent { seq: number }

export const activitySubject = (prefix = DEFAULT_PREFIX, kind = '*'): string => `${prefix}.activity.${kind}`
export const allActivity = (prefix = DEFAULT_PREFIX): string => `${prefix}.activity.*`

/** Idempotent: creates the stream or leaves an existing one as it is. */
export async function ensureActivityStream (jsm: JetStreamManager, opts: { replicas?: number, prefix?: string } = {}): Promise<void> {
  try { await jsm.streams.info(ACTIVITY_STREAM); return } catch { /* missing: create */ }
  try {
    await jsm.streams.add({
      name: ACTIVITY_STREAM,
      subjects: [allActivity(opts.prefix)],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: opts.replicas ?? 1,
      max_age: nanos(ACTIVITY_MAX_AGE_MS),
      max_msgs: ACTIVITY_MAX_MSGS,
      max_bytes: MAX_BYTES,
      duplicate_window: nanos(120_000),
    })
  } catch (err) {
    if (!/already in use|exists/i.test((err as Error).message)) throw err
  }
}

/** What publishes to a stream with a message id: a JetStreamClient, or the registry's pipelined JsWriter. */
export interface StreamPublisher {
  publish: (subject: string, data: Uint8Array, opts: { msgID: string }) => Promise<unknown>
}

export async function publishActivity (js: StreamPublisher, event: ActivityEvent, msgID: string, prefix?: string): Promise<void> {
  await js.publish(activitySubject(prefix, event.kind), encodeJson(event), { msgID })
}

export interface ActivityPage { events: StoredActivity[], next: number, first: number, last: number }

/**
 * Events after `since` (a stream sequence), at most `limit`; with `since`
 * undefined, the last `limit`. Sequences are contiguous (nothing is deleted
 * by hand), so a page is a range of direct reads.
 */
export async function readActivity (jsm: JetStreamManager, since: number | undefined, limit: number): Promise<ActivityPage> {
  let state
  try { state = (await jsm.streams.info(ACTIVITY_STREAM)).state } catch (err) {
    // Not created yet (no registry has started its publisher): an empty feed.
    if (/not found/i.test((err as Error).message)) return { events: [], next: since ?? 0, first: 0, last: 0 }
    throw err
  }
  const first = state.first_seq
  const last = state.last_seq
  // A cursor from before the stream was re-created: start again from its end.
  if (since !== undefined && since > last) return { events: [], next: last, first, last }
  const from = since === undefined ? Math.max(first, last - limit + 1) : Math.max(first, since + 1)
  const to = Math.min(last, from + limit - 1)
  const seqs: number[] = []
  for (let s = from; s <= to && state.messages > 0; s++) seqs.push(s)
  const got = await Promise.all(seqs.map(async (seq) => await jsm.streams.getMessage(ACTIVITY_STREAM, { seq }).catch(() => null)))
  const events: StoredActivity[] = []
  for (const m of got) {
    if (m === null) continue
    const d = decodeJson(m.data)
    if (d.ok && typeof d.value === 'object' && d.value !== null) events.push({ ...(d.value as ActivityEvent), seq: m.seq })
  }
  return { events, next: Math.max(to, since ?? 0, from - 1), first, last }
}
