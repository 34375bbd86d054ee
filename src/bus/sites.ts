// Sites joined by NATS itself (issue 21, docs/architecture.md "Sites"): each
// site's registries keep a read-only JetStream MIRROR of every other site's
// endpoint export and site summary buckets, reached across a leaf-node link through the
// other site's JetStream domain (`$JS.<site>.API`). NATS does the copying,
// keeps the copy on disk and catches up after a cut; nothing here replicates
// by hand. Losing the link stops the mirror where it is: the last state stays
// (fail static) and the link's state is read from the mirror's own info.
import type { JetStreamManager, KV, NatsConnection } from 'nats'
import { RetentionPolicy, StorageType, DiscardPolicy, nanos } from 'nats'
import { BUCKET_TTL_MS, Buckets } from './buckets.js'

/**
 * The tables a site shares with the others: its endpoints, and its registries'
 * summaries (liveness, host counts, standby services). Not the host table:
 * every heartbeat rewrites a host record with a CAS header, and a 2.9.10
 * mirror that missed one revision refuses the rest (core/site-summary.ts).
 */
export type RemoteTable = 'endpoints' | 'site'
export const REMOTE_TABLES: readonly RemoteTable[] = ['endpoints', 'site']

/** `driftgate_remote_<site>_<table>`: the local, read-only copy of another site's bucket. */
export function remoteBucket (site: string, table: RemoteTable): string {
  return `driftgate_remote_${site}_${table}`
}

/**
 * The export of this site's endpoint table for the other sites: same keys and
 * values as `driftgate_endpoints`, written by ONE registry with plain
 * puts/deletes (registry/sites/export-writer.ts). The registries write
 * `driftgate_endpoints` with CAS, and a 2.9.10 mirror re-checks that header
 * and refuses every later revision of a key it missed one of (nats-server
 * #5865); a plain put carries no such header, so the mirror never stalls.
 */
export const EXPORT_ENDPOINTS = 'driftgate_export_endpoints'

/** The bucket of the other site each remote table mirrors. */
export const MIRROR_ORIGIN: Readonly<Record<RemoteTable, string>> = { endpoints: EXPORT_ENDPOINTS, site: Buckets.site }

/** Opens (creating when missing) the export bucket; no direct gets, like every bucket another site mirrors. */
export async function openExportBucket (nc: NatsConnection, replicas = 1): Promise<KV> {
  return await nc.jetstream().views.kv(EXPORT_ENDPOINTS, { replicas, history: 1, allow_direct: false })
}

/** Subjects the origin site delivers a mirror's messages on (one prefix per pair of sites). */
export function mirrorDeliverPrefix (prefix: string, origin: string, local: string): string {
  return `${prefix}.sites.${origin}.to.${local}`
}

export interface MirrorOptions { prefix?: string, replicas?: number }

/**
 * Opens (creating when missing) the local mirror of `site`'s `table`.
 * An existing mirror is used as it is (JetStream does not allow changing a
 * mirror's origin; a wrong one is an operator's fix, and is logged by the caller).
 */
export async function openRemoteMirror (nc: NatsConnection, local: string, site: string, table: RemoteTable, opts: MirrorOptions = {}): Promise<KV> {
  // A mirror with mirror_direct ANSWERS DIRECT GETS ADDRESSED TO ITS ORIGIN'S
  // NAME (KV_driftgate_<table>), which is also the name of this site's own
  // bucket: a direct get of the local bucket would then read the other
  // site's record about half the time (measured: 18 of 40). The stream is
  // made here without it where the server allows; see below.
  const jsm = await nc.jetstreamManager()
  const name = `KV_${remoteBucket(site, table)}`
  const origin = `KV_${MIRROR_ORIGIN[table]}`
  const config = {
    name,
    mirror: { name: origin, external: { api: `$JS.${site}.API`, deliver: mirrorDeliverPrefix(opts.prefix ?? 'driftgate', site, local) } },
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: 1,
    num_replicas: opts.replicas ?? 1,
    allow_rollup_hdrs: true,
    allow_direct: false,
    mirror_direct: false,
    // Expiry in the origin does not reach a mirror: the mirror expires on its own.
    ...(BUCKET_TTL_MS[Buckets[table]] !== undefined ? { max_age: nanos(BUCKET_TTL_MS[Buckets[table]]!) } : {}),
  }
  let info
  try { info = await jsm.streams.info(name) } catch { /* missing: create below */ }
  if (info !== undefined && info.config.mirror?.name !== undefined && info.config.mirror.name !== origin) {
    // A mirror of an older origin (before the endpoint export: KV_driftgate_endpoints).
    // It is a read-only copy, so it is dropped and made again from the new origin.
    await jsm.streams.delete(name)
    info = undefined
  }
  if (info === undefined) {
    try { info = await jsm.streams.add(config) } catch (err) { if (!/already in use|exists/i.test((err as Error).message)) throw err }
    info ??= await jsm.streams.info(name)
  }
  if (info.config.mirror_direct === true || info.config.allow_direct === true) {
    info = await jsm.streams.update(name, { ...info.config, allow_direct: false, mirror_direct: false })
  }
  // nats-server 2.9.10 turns mirror_direct back on when the origin allows
  // direct gets (measured): readers of the local buckets of these names use
  // stream message gets instead (openBucket, NO_DIRECT in buckets.ts).
  return await nc.jetstream().views.kv(remoteBucket(site, table))
}

/** Opens an existing mirror only (renderers: the registry creates them); undefined when it is not there (yet). */
export async function bindRemoteMirror (nc: NatsConnection, site: string, table: RemoteTable): Promise<KV | undefined> {
  // Not `bindOnly`: nats.js's bind does not read the stream's config, so it
  // would not know the keys of a mirror sit under the ORIGIN bucket's
  // subjects and its watch would see nothing (measured). The info check
  // first keeps this from ever creating the bucket.
  try {
    await (await nc.jetstreamManager()).streams.info(`KV_${remoteBucket(site, table)}`)
    return await nc.jetstream().views.kv(remoteBucket(site, table))
  } catch {
    return undefined
  }
}

/** What the mirror itself says about the link: when it last heard from the origin, how far behind it is. */
export interface MirrorState {
  /** ms since the mirror last heard from the origin (data or heartbeat); null when never. */
  activeMs: number | null
  /** Messages the mirror is behind the origin, as last reported. */
  lag: number
  /** Messages held locally. */
  messages: number
  error?: string
}

export async function mirrorState (jsm: JetStreamManager, site: string, table: RemoteTable): Promise<MirrorState> {
  const si = await jsm.streams.info(`KV_${remoteBucket(site, table)}`)
  const m = si.mirror
  const active = m?.active ?? -1
  const out: MirrorState = { activeMs: active < 0 ? null : Math.round(active / 1e6), lag: m?.lag ?? 0, messages: si.state.messages }
  const err = (m as { error?: { description?: string } } | undefined)?.error?.description
  if (err !== undefined) out.error = err
  return out
}

/**
 * The nats-server `permissions` of the user a leaf node of site `leaf` logs
 * into site `hub` with: only what the two mirrors each way need (publish =
 * what the leaf may send into the hub, subscribe = what the hub may send to
 * the leaf). Measured on nats-server 2.9.10: without `$JSC.R.>` (the reply of
 * a mirror's consumer create) no mirror starts.
 */
export function siteLinkPermissions (hub: string, leaf: string, prefix = 'driftgate'): { publish: string[], subscribe: string[] } {
  const streams = REMOTE_TABLES.map((t) => `KV_${MIRROR_ORIGIN[t]}`)
  const api = (domain: string): string[] => [
    ...streams.flatMap((s) => [`$JS.${domain}.API.CONSUMER.CREATE.${s}`, `$JS.${domain}.API.CONSUMER.CREATE.${s}.>`, `$JS.${domain}.API.CONSUMER.DELETE.${s}.>`]),
  ]
  const flow = streams.flatMap((s) => [`$JS.FC.${s}.>`, `$JS.ACK.${s}.>`])
  const both = ['$JSC.R.>', '$LDS.>', ...flow]
  return {
    // the leaf asks the hub's domain for consumers, and delivers the hub's mirror of the leaf
    publish: [...api(hub), `${mirrorDeliverPrefix(prefix, leaf, hub)}.>`, ...both],
    // the hub asks the leaf's domain for consumers, and delivers the leaf's mirror of the hub
    subscribe: [...api(leaf), `${mirrorDeliverPrefix(prefix, hub, leaf)}.>`, ...both],
  }
}
