// The JetStream stream and KV buckets (DESIGN section 3), created if missing.
import type { JetStreamManager, KV, NatsConnection } from 'nats'
import { RetentionPolicy, StorageType, DiscardPolicy, nanos } from 'nats'
import { subjects as makeSubjects } from './subjects.js'

export const STREAM = 'DRIFTGATE_EVENTS'

export const Buckets = {
  endpoints: 'driftgate_endpoints',
  services: 'driftgate_services',
  hosts: 'driftgate_hosts',
  ipam: 'driftgate_ipam',
  assignments: 'driftgate_assignments',
  leases: 'driftgate_leases',
  /** `<service>.<version>`: every applied spec, the last HISTORY_KEEP per service (src/placement/history.ts). */
  history: 'driftgate_history',
  /** `<registry>`: each registry's summary for the other sites (issue 21, core/site-summary.ts). */
  site: 'driftgate_site',
} as const
export type BucketName = (typeof Buckets)[keyof typeof Buckets]

export interface BusLayoutOptions { replicas?: number, prefix?: string }

/** Idempotent: creates the stream, or leaves an existing one as it is. */
export async function ensureStream (jsm: JetStreamManager, opts: BusLayoutOptions = {}): Promise<void> {
  try {
    await jsm.streams.info(STREAM)
    return
  } catch { /* missing: create below */ }
  try {
    await jsm.streams.add({
      name: STREAM,
      subjects: makeSubjects(opts.prefix).streamSubjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: opts.replicas ?? 1,
      max_age: nanos(24 * 3600_000), // a registry down for a day still catches up; snapshots heal the rest
      max_bytes: 1024 * 1024 * 1024,
      duplicate_window: nanos(120_000),
    })
  } catch (err) {
    // Another process created it between our info() and add(): that is fine.
    if (!/already in use|exists/i.test((err as Error).message)) throw err
  }
}

export const LOG_STREAM = 'DRIFTGATE_LOGS'

export interface LogStreamOptions extends BusLayoutOptions {
  /** Oldest lines are dropped after this long (ms); default 24 h. */
  maxAgeMs?: number
  /** ... or once the stream holds this many bytes; default 1 GiB. */
  maxBytes?: number
}

/**
 * Idempotent: creates DRIFTGATE_LOGS, or updates the limits of an existing
 * one (an operator changing --logs-max-age sees it applied on the next start).
 * Direct get is on: agents read their cursor (last message per subject) with it.
 */
export async function ensureLogStream (jsm: JetStreamManager, opts: LogStreamOptions = {}): Promise<void> {
  const limits = {
    max_age: nanos(opts.maxAgeMs ?? 24 * 3600_000),
    max_bytes: opts.maxBytes ?? 1024 * 1024 * 1024,
  }
  let existing
  try { existing = await jsm.streams.info(LOG_STREAM) } catch { /* missing: create below */ }
  if (existing !== undefined) {
    const c = existing.config
    if (c.max_age !== limits.max_age || c.max_bytes !== limits.max_bytes) await jsm.streams.update(LOG_STREAM, { ...c, ...limits })
    return
  }
  try {
    await jsm.streams.add({
      name: LOG_STREAM,
      subjects: [makeSubjects(opts.prefix).allLogs],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: opts.replicas ?? 1,
      allow_direct: true,
      // A batch re-sent after a lost ack carries the same Nats-Msg-Id: stored once.
      duplicate_window: nanos(120_000),
      ...limits,
    })
  } catch (err) {
    if (!/already in use|exists/i.test((err as Error).message)) throw err
  }
}

const HISTORY: Partial<Record<BucketName, number>> = { [Buckets.services]: 5 }

/** Keys that expire (ms): a site summary of a registry gone for an hour is dropped. */
export const BUCKET_TTL_MS: Partial<Record<BucketName, number>> = { [Buckets.site]: 3600_000 }

/**
 * Buckets other sites mirror (issue 21, src/bus/sites.ts): read with stream
 * message gets, never direct gets. A mirror in this site answers direct gets
 * addressed to its origin's stream name, which is this bucket's own name, so
 * a direct get could return the other site's record (measured on 2.9.10,
 * which forces mirror_direct on such mirrors). Watches are not affected.
 */
const NO_DIRECT = new Set<BucketName>([Buckets.endpoints, Buckets.hosts, Buckets.site])

/** Opens (creating when missing) one bucket. */
export async function openBucket (nc: NatsConnection, name: BucketName, opts: BusLayoutOptions = {}): Promise<KV> {
  const js = nc.jetstream()
  const ttl = BUCKET_TTL_MS[name]
  return await js.views.kv(name, { replicas: opts.replicas ?? 1, history: HISTORY[name] ?? 1, ...(NO_DIRECT.has(name) ? { allow_direct: false } : {}), ...(ttl !== undefined ? { ttl } : {}) })
}

/** Opens every bucket; used by the registry at start. */
export async function ensureBuckets (nc: NatsConnection, opts: BusLayoutOptions = {}): Promise<Record<keyof typeof Buckets, KV>> {
  const entries = await Promise.all(Object.entries(Buckets).map(async ([k, name]) =>
    [k, await openBucket(nc, name, opts)] as const))
  return Object.fromEntries(entries) as Record<keyof typeof Buckets, KV>
}
