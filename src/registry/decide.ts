// The one decision about one container: given what the endpoint table holds
// for its key and an incoming change, write a record, write a tombstone, or
// ignore it. Pure, so every ordering rule is tested in a table.
import { compareVersion, type EndpointInfo, type EndpointRecord, type EventMessage, type SnapshotMessage } from '../core/index.js'

/** One change to one container, from an event, a snapshot or the liveness sweep. */
export interface IngestEvent {
  kind: 'upsert' | 'remove'
  /** `liveness` removes what a down host last said, and only that. */
  source: 'event' | 'snapshot' | 'liveness'
  host: string
  instance: string
  seq: number
  service: string
  containerId: string
  /** Present for upserts. */
  endpoint?: EndpointInfo
}

export type Action = 'put' | 'tombstone' | 'ignore'

export interface Decision {
  action: Action
  record?: EndpointRecord
  /** Why: for metrics (stale_events_total{reason}) and debug logs. */
  reason: 'new' | 'newer' | 'stale' | 'replay' | 'other_host' | 'already_removed' | 'changed_since' | 'unchanged' | 'unknown'
}

export function endpointKey (service: string, containerId: string): string {
  return `${service}.${containerId}`
}

export function keyOf (ev: IngestEvent): string {
  return endpointKey(ev.service, ev.containerId)
}

function liveRecord (ev: IngestEvent, now: number): EndpointRecord {
  const e = ev.endpoint as EndpointInfo
  return { ...e, v: 1, host: ev.host, instance: ev.instance, seq: ev.seq, updatedAt: now }
}

// A tombstone keeps what is known of the container (useful in logs and for the
// lookup API's history) but carries the version of the removal.
function tombstone (current: EndpointRecord | null, ev: IngestEvent, now: number): EndpointRecord {
  const base = current != null && current.host === ev.host ? current : { service: ev.service, containerId: ev.containerId }
  return { ...base, v: 1, host: ev.host, instance: ev.instance, seq: ev.seq, updatedAt: now, removed: true } as EndpointRecord
}

function write (current: EndpointRecord | null, ev: IngestEvent, now: number, reason: Decision['reason']): Decision {
  return ev.kind === 'upsert'
    ? { action: 'put', record: liveRecord(ev, now), reason }
    : { action: 'tombstone', record: tombstone(current, ev, now), reason }
}

export function decide (current: EndpointRecord | null, ev: IngestEvent, now: number): Decision {
  if (ev.source === 'liveness') return decideLiveness(current, ev, now)
  if (current == null) return write(null, ev, now, 'new')
  if (current.host !== ev.host) {
    // Container ids are unique per Docker host, so a live record of another
    // host can only be claimed by a confused or hostile agent.
    if (current.removed !== true) return { action: 'ignore', reason: 'other_host' }
    return ev.kind === 'upsert' ? write(null, ev, now, 'new') : { action: 'ignore', reason: 'already_removed' }
  }
  const cmp = compareVersion(ev.instance, ev.seq, current.instance, current.seq)
  if (cmp < 0) return { action: 'ignore', reason: 'stale' }
  if (cmp === 0) return { action: 'ignore', reason: 'replay' }
  if (unchangedBySnapshot(current, ev)) return { action: 'ignore', reason: 'unchanged' }
  return write(current, ev, now, 'newer')
}

// Every field of EndpointInfo that a record repeats (service and containerId are the key).
const INFO_FIELDS = ['name', 'ip', 'mac', 'port', 'network', 'state', 'health', 'weight', 'managed', 'replica', 'specHash'] as const

/**
 * A periodic snapshot repeating what the record already says (same agent run,
 * same fields) writes nothing: at 1,000 hosts every 30 s that is 1,700 KV
 * writes/s of nothing otherwise. Only the record's seq would move; an event
 * of this run older than the snapshot still loses to the record's own seq
 * unless it was redelivered out of order, which the next snapshot heals
 * (docs/scaling.md).
 */
function unchangedBySnapshot (current: EndpointRecord, ev: IngestEvent): boolean {
  if (ev.source !== 'snapshot' || ev.kind !== 'upsert' || current.removed === true || current.instance !== ev.instance) return false
  const e = ev.endpoint as EndpointInfo
  return INFO_FIELDS.every((f) => current[f] === e[f])
}

// The sweep removes a down host's endpoint only if nothing newer arrived since
// it read the record: it carries the record's own version, equal means unchanged.
function decideLiveness (current: EndpointRecord | null, ev: IngestEvent, now: number): Decision {
  if (current == null || current.removed === true) return { action: 'ignore', reason: 'already_removed' }
  if (current.host !== ev.host) return { action: 'ignore', reason: 'other_host' }
  if (compareVersion(ev.instance, ev.seq, current.instance, current.seq) !== 0) return { action: 'ignore', reason: 'changed_since' }
  return { action: 'tombstone', record: tombstone(current, ev, now), reason: 'newer' }
}

export function fromEvent (msg: EventMessage): IngestEvent {
  return {
    kind: msg.kind,
    source: 'event',
    host: msg.host,
    instance: msg.instance,
    seq: msg.seq,
    service: msg.endpoint.service,
    containerId: msg.endpoint.containerId,
    endpoint: msg.kind === 'upsert' ? msg.endpoint as EndpointInfo : undefined,
  }
}

/**
 * A snapshot as per-container changes: an upsert for each container it holds,
 * a removal for each live key of that host (`hostKeys`) it lacks. All carry the
 * snapshot's version, so decide() lets it win only over older records.
 */
export function fromSnapshot (msg: SnapshotMessage, hostKeys: Iterable<string>): IngestEvent[] {
  const base = { source: 'snapshot' as const, host: msg.host, instance: msg.instance, seq: msg.seq }
  const out: IngestEvent[] = []
  const held = new Set<string>()
  for (const e of msg.endpoints) {
    const key = endpointKey(e.service, e.containerId)
    if (held.has(key)) continue // a duplicate entry: the first one counts
    held.add(key)
    out.push({ ...base, kind: 'upsert', service: e.service, containerId: e.containerId, endpoint: e })
  }
  for (const key of hostKeys) {
    if (held.has(key)) continue
    const dot = key.indexOf('.')
    out.push({ ...base, kind: 'remove', service: key.slice(0, dot), containerId: key.slice(dot + 1) })
  }
  return out
}
