// Turning raw stream / heartbeat messages into typed, trusted values. Pure:
// every rejection has a reason, counted in invalid_messages_total{reason}.
import { checkEvent, checkSnapshot, checkHeartbeat, type EventMessage, type SnapshotMessage, type HeartbeatMessage, type FieldProblem } from '../core/index.js'
import { decodeJson, MAX_MESSAGE_BYTES, type Subjects } from '../bus/index.js'

/** An event describes one container: anything this large is not an event. */
export const MAX_EVENT_BYTES = 64 * 1024
export const MAX_HEARTBEAT_BYTES = 64 * 1024

export type InvalidReason =
  'oversized' | 'not_utf8' | 'not_json' | 'unknown_version' | 'schema' | 'host_mismatch' | 'bad_subject'

export interface Invalid { ok: false, reason: InvalidReason, detail?: string }
export type Parsed<T> = { ok: true, value: T } | Invalid

export type StreamMessage =
  | { type: 'event', msg: EventMessage }
  | { type: 'snapshot', msg: SnapshotMessage }

function hostOf (subject: string, prefix: string): string | null {
  if (!subject.startsWith(prefix)) return null
  const rest = subject.slice(prefix.length)
  return rest.length > 0 && !rest.includes('.') ? rest : null
}

function problemsText (problems: FieldProblem[]): string {
  return problems.slice(0, 3).map((p) => `${p.field} ${p.message}`).join('; ')
}

/** Size, UTF-8, JSON, version, schema, then the subject's host against the payload's. */
function parseTyped<T extends { host: string }> (
  data: Uint8Array, maxBytes: number, subjectHost: string,
  problems: (v: unknown) => FieldProblem[] | null,
): Parsed<T> {
  const decoded = decodeJson(data, maxBytes)
  if (!decoded.ok) return { ok: false, reason: decoded.reason, detail: `${data.length} bytes` }
  const value = decoded.value
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'v' in value && (value as { v: unknown }).v !== 1) {
    return { ok: false, reason: 'unknown_version', detail: `v=${JSON.stringify((value as { v: unknown }).v)?.slice(0, 20)}` }
  }
  const p = problems(value)
  if (p != null) return { ok: false, reason: 'schema', detail: problemsText(p) }
  const typed = value as T
  if (typed.host !== subjectHost) {
    return { ok: false, reason: 'host_mismatch', detail: `subject host ${subjectHost}, payload host ${typed.host}` }
  }
  return { ok: true, value: typed }
}

export function parseStreamMessage (subject: string, data: Uint8Array, subs: Subjects): Parsed<StreamMessage> {
  const evHost = hostOf(subject, `${subs.prefix}.events.`)
  if (evHost != null) {
    const r = parseTyped<EventMessage>(data, MAX_EVENT_BYTES, evHost, checkEvent.problems)
    return r.ok ? { ok: true, value: { type: 'event', msg: r.value } } : r
  }
  const snapHost = hostOf(subject, `${subs.prefix}.snapshot.`)
  if (snapHost != null) {
    const r = parseTyped<SnapshotMessage>(data, MAX_MESSAGE_BYTES, snapHost, checkSnapshot.problems)
    return r.ok ? { ok: true, value: { type: 'snapshot', msg: r.value } } : r
  }
  return { ok: false, reason: 'bad_subject', detail: subject.slice(0, 200) }
}

export function parseHeartbeat (subject: string, data: Uint8Array, subs: Subjects): Parsed<HeartbeatMessage> {
  const host = hostOf(subject, `${subs.prefix}.heartbeat.`)
  if (host == null) return { ok: false, reason: 'bad_subject', detail: subject.slice(0, 200) }
  return parseTyped<HeartbeatMessage>(data, MAX_HEARTBEAT_BYTES, host, checkHeartbeat.problems)
}
