// When a KV watch must be opened again: this client moved to another server
// (reconnect), or the cluster's membership changed (an INFO update). A watch
// is an ordered consumer on one server, not always the one the client talks
// to; when that server is killed, nats.js notices only after two missed idle
// heartbeats (5 s each, fixed by kv.watch() in nats.js 2.x), and a mirror
// stood still 10-30 s. nats.js lists only servers it learned from the
// cluster as added/deleted, so the departure of a server given in --nats
// comes as an update with empty lists: any update counts (a server coming
// back costs one needless reopen).
import type { KV, NatsConnection, Status } from 'nats'

export function nodeChanged (s: Status): boolean {
  return s.type === 'reconnect' || s.type === 'update'
}

/**
 * Calls `onChange` on every reconnect or membership update of the connection
 * behind `kv`; stop() ends it. Nothing (undefined) for a KV that is not
 * nats.js's (unit-test fakes).
 */
export function followNodeChanges (kv: KV, onChange: () => void): { stop: () => void } | undefined {
  // The KV interface does not declare it; nats.js's Bucket holds its JetStream client, which holds the connection.
  const nc = (kv as unknown as { js?: { nc?: NatsConnection } }).js?.nc
  if (nc === undefined) return undefined
  const statuses = nc.status() as AsyncIterable<Status> & { stop?: () => void }
  void (async () => {
    for await (const s of statuses) if (nodeChanged(s)) onChange()
  })().catch(() => { /* the connection closed: nothing to follow */ })
  return { stop: () => { statuses.stop?.() } }
}
