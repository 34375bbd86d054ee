// Answers `<prefix>.applied.<renderer>.routes`: "which of these container ids
// do you route now?". The applied announcement carries the id list only while
// it is small (APPLIED_INLINE_MAX); beyond that a drain asks here instead, so
// no message grows with the size of the fleet (issue 20: 50,000 ids do not fit
// NATS's 1 MB payload, and every agent would receive every list).
import type { Msg, NatsConnection, Subscription } from 'nats'
import { CONTAINER_ID_PATTERN, type AppliedMessage, type Logger, type RoutesAnswer } from '../core/index.js'
import { decodeJson, encodeJson } from '../bus/index.js'

/** Ids announced inline (67 bytes each in JSON: about 67 KB). */
export const APPLIED_INLINE_MAX = 1000
/** Ids one query may ask about. */
export const ROUTES_QUERY_MAX = 1000

const ID = new RegExp(CONTAINER_ID_PATTERN)

/** Pure: the ids of a query, or why it is refused. */
export function parseRoutesQuery (data: Uint8Array): { ok: true, ids: string[] } | { ok: false, reason: string } {
  const d = decodeJson(data)
  if (!d.ok) return { ok: false, reason: 'not JSON' }
  const v = d.value as { v?: unknown, ids?: unknown }
  if (v == null || typeof v !== 'object' || v.v !== 1 || !Array.isArray(v.ids)) return { ok: false, reason: 'expected {v: 1, ids: [...]}' }
  if (v.ids.length > ROUTES_QUERY_MAX) return { ok: false, reason: `more than ${ROUTES_QUERY_MAX} ids` }
  if (!v.ids.every((id) => typeof id === 'string' && ID.test(id))) return { ok: false, reason: 'an id is not a container id' }
  return { ok: true, ids: v.ids as string[] }
}

export class RoutesResponder {
  private sub?: Subscription
  /** The routed set of the generation it was built for (built on the first query of a generation). */
  private cache: { applied: AppliedMessage & { containers: string[] }, set: Set<string> } | null = null

  constructor (private readonly o: {
    nc: NatsConnection
    subject: string
    renderer: string
    current: () => (AppliedMessage & { containers: string[] }) | null
    log: Logger
    onRefused: () => void
  }) {}

  start (): void {
    this.sub = this.o.nc.subscribe(this.o.subject, { callback: (err, m) => { if (err == null) this.answer(m) } })
  }

  private answer (m: Msg): void {
    if (m.reply == null || m.reply === '') return
    const q = parseRoutesQuery(m.data)
    if (!q.ok) {
      this.o.onRefused()
      m.respond(encodeJson({ v: 1, error: q.reason }))
      return
    }
    const applied = this.o.current()
    if (applied == null) { m.respond(encodeJson({ v: 1, error: 'nothing applied yet' })); return }
    if (this.cache?.applied !== applied) this.cache = { applied, set: new Set(applied.containers) }
    const set = this.cache.set
    const answer: RoutesAnswer = { v: 1, renderer: this.o.renderer, generation: applied.generation, routed: q.ids.filter((id) => set.has(id)) }
    m.respond(encodeJson(answer))
  }

  close (): void { this.sub?.unsubscribe(); this.sub = undefined; this.cache = null }
}
