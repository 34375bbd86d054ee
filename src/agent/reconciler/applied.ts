// Which generation every live renderer has applied, from the
// `driftgate.applied.<renderer>` announcements (sent after each reload and
// periodically as liveness). A renderer silent for `silentMs` is not live and
// blocks nothing: a dead nginx host must not stall every drain; one silent
// for `forgetMs` is dropped altogether. The renderer is the subject's: NATS
// permissions let a renderer publish only its own subject, so a payload that
// names another renderer is refused and counted (issue 15, hole 3).
import type { NatsConnection, Subscription } from 'nats'
import { Counter, type Registry } from 'prom-client'
import { checkApplied, type AppliedMessage, type Logger, type RoutesAnswer } from '../../core/index.js'
import { decodeJson, encodeJson, type Subjects } from '../../bus/index.js'

/** How long one routes query may take before it counts as unanswered (asked again on the next check). */
const QUERY_TIMEOUT_MS = 2000

/** `containers` null: the announcement left the id list out (too many); drains ask the renderer. */
export interface RendererState { renderer: string, generation: number, containers: Set<string> | null, at: number }

/** A renderer's answer to a routes query: which of `asked` it routed at `generation`. */
interface Answer { generation: number, asked: Set<string>, routed: Set<string> }

export interface AppliedTrackerOptions {
  nc: NatsConnection
  subjects: Subjects
  log: Logger
  silentMs: number
  /** A renderer silent this long is forgotten. Default 60 s (at least `silentMs`). */
  forgetMs?: number
  /** Where `driftgate_agent_applied_refused_total` is counted. */
  metrics?: Registry
  now?: () => number
}

export type AppliedRefusal = 'invalid' | 'bad_subject' | 'renderer_mismatch'
export type AppliedParse = { ok: true, msg: AppliedMessage } | { ok: false, reason: AppliedRefusal, detail: string }

/** Pure: the announcement on `subject`, accepted only when its renderer is the subject's. */
export function parseApplied (subject: string, data: Uint8Array, prefix: string): AppliedParse {
  const head = `${prefix}.applied.`
  const id = subject.startsWith(head) ? subject.slice(head.length) : ''
  if (id === '' || id.includes('.')) return { ok: false, reason: 'bad_subject', detail: subject.slice(0, 200) }
  const d = decodeJson(data)
  if (!d.ok) return { ok: false, reason: 'invalid', detail: d.reason }
  const problems = checkApplied.problems(d.value)
  if (problems !== null) return { ok: false, reason: 'invalid', detail: problems.map((p) => `${p.field} ${p.message}`).join('; ').slice(0, 200) }
  const msg = checkApplied(d.value)
  if (msg.renderer !== id) return { ok: false, reason: 'renderer_mismatch', detail: `subject renderer ${id}, payload renderer ${msg.renderer}` }
  return { ok: true, msg }
}

function refusedCounter (reg: Registry | undefined): Counter<'reason'> | undefined {
  if (reg === undefined) return undefined
  const name = 'driftgate_agent_applied_refused_total'
  return (reg.getSingleMetric(name) as Counter<'reason'> | undefined) ?? new Counter({
    name, help: 'Renderer announcements ignored: invalid, on a malformed subject, or naming another renderer than the subject', labelNames: ['reason'], registers: [reg],
  })
}

export class AppliedTracker {
  readonly renderers = new Map<string, RendererState>()
  private sub?: Subscription
  private readonly waiters = new Set<() => void>()
  private readonly now: () => number
  private readonly forgetMs: number
  private readonly refused?: Counter<'reason'>
  private readonly warned = new Set<AppliedRefusal>()
  /** Routes answers of renderers without an inline list, and the queries in flight. */
  private readonly answers = new Map<string, Answer>()
  private readonly asking = new Set<string>()
  private closed = false
  startedAt = 0

  constructor (private readonly o: AppliedTrackerOptions) {
    this.now = o.now ?? Date.now
    this.forgetMs = Math.max(o.forgetMs ?? 60_000, o.silentMs)
    this.refused = refusedCounter(o.metrics)
  }

  start (): void {
    this.startedAt = this.now()
    this.sub = this.o.nc.subscribe(this.o.subjects.allApplied, {
      callback: (err, m) => { if (err == null) this.onMessage(m.subject, m.data) },
    })
  }

  private onMessage (subject: string, data: Uint8Array): void {
    const p = parseApplied(subject, data, this.o.subjects.prefix)
    if (!p.ok) {
      this.refused?.inc({ reason: p.reason })
      if (!this.warned.has(p.reason)) { this.warned.add(p.reason); this.o.log.warn({ subject: subject.slice(0, 200), reason: p.reason, detail: p.detail }, 'renderer announcement ignored') }
      return
    }
    const msg = p.msg
    this.forget()
    const prev = this.renderers.get(msg.renderer)
    // A restarted renderer starts its generations again: take the newest message, whatever its number.
    if (prev !== undefined && prev.generation > msg.generation && this.now() - prev.at < this.o.silentMs) return
    const containers = msg.containers !== undefined ? new Set(msg.containers) : null
    this.renderers.set(msg.renderer, { renderer: msg.renderer, generation: msg.generation, containers, at: this.now() })
    for (const w of this.waiters) w()
  }

  /** Drops renderers silent for the forget time: gone for good as far as drains are concerned. */
  private forget (): void {
    const cutoff = this.now() - this.forgetMs
    for (const [id, r] of this.renderers) if (r.at < cutoff) { this.renderers.delete(id); this.answers.delete(id) }
  }

  live (): RendererState[] {
    this.forget()
    const cutoff = this.now() - this.o.silentMs
    return [...this.renderers.values()].filter((r) => r.at >= cutoff)
  }

  /**
   * Which of `ids` renderer `r` routes, as far as known now: from its inline
   * list, or from an answer to a routes query at its current generation or
   * later. Unknown (null) starts a query; the answer wakes the waiters.
   */
  private routedBy (r: RendererState, ids: string[]): Set<string> | null {
    if (r.containers !== null) return r.containers
    const a = this.answers.get(r.renderer)
    if (a !== undefined && a.generation >= r.generation && ids.every((id) => a.asked.has(id))) return a.routed
    this.ask(r.renderer, ids)
    return null
  }

  private ask (renderer: string, ids: string[]): void {
    if (this.asking.has(renderer) || this.closed) return
    this.asking.add(renderer)
    const asked = new Set(ids)
    this.o.nc.request(this.o.subjects.routes(renderer), encodeJson({ v: 1, ids }), { timeout: QUERY_TIMEOUT_MS })
      .then((m) => {
        const d = decodeJson(m.data)
        const v = (d.ok ? d.value : null) as Partial<RoutesAnswer> | null
        if (v?.renderer !== renderer || typeof v.generation !== 'number' || !Array.isArray(v.routed)) return
        this.answers.set(renderer, { generation: v.generation, asked, routed: new Set(v.routed.filter((id) => asked.has(id))) })
        for (const w of this.waiters) w()
      }, () => undefined) // no answer (an older renderer, or gone): the next check asks again
      .finally(() => { this.asking.delete(renderer) })
  }

  /** Every live renderer's applied config lacks all of `ids` (false while a renderer's answer is pending). */
  allLack (ids: string[]): boolean {
    return this.live().every((r) => {
      const routed = this.routedBy(r, ids)
      return routed !== null && ids.every((id) => !routed.has(id))
    })
  }

  /** Every live renderer routes `id` (false while a renderer's answer is pending). */
  allHave (id: string): boolean {
    return this.live().every((r) => this.routedBy(r, [id])?.has(id) === true)
  }

  /** Resolves true when `pred` holds (checked on every announcement and every 250 ms), false on timeout. */
  async until (pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return true
    return await new Promise<boolean>((resolve) => {
      const check = (): void => { if (this.closed) finish(false); else if (pred()) finish(true) }
      const tick = setInterval(check, 250)
      const timer = setTimeout(() => { finish(pred()) }, timeoutMs)
      const finish = (v: boolean): void => {
        clearInterval(tick); clearTimeout(timer); this.waiters.delete(check); resolve(v)
      }
      this.waiters.add(check)
    })
  }

  close (): void {
    this.closed = true
    this.sub?.unsubscribe()
    for (const w of this.waiters) w()
  }
}
