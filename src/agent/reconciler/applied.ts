// Which generation every live renderer has applied, from the
// `driftgate.applied.<renderer>` announcements (sent after each reload and
// periodically as liveness). A renderer silent for `silentMs` is not live and
// blocks nothing: a dead nginx host must not stall every drain.
import type { NatsConnection, Subscription } from 'nats'
import { checkApplied, type Logger } from '../../core/index.js'
import { decodeJson, type Subjects } from '../../bus/index.js'

export interface RendererState { renderer: string, generation: number, containers: Set<string>, at: number }

export interface AppliedTrackerOptions {
  nc: NatsConnection
  subjects: Subjects
  log: Logger
  silentMs: number
  now?: () => number
}

export class AppliedTracker {
  readonly renderers = new Map<string, RendererState>()
  private sub?: Subscription
  private readonly waiters = new Set<() => void>()
  private readonly now: () => number
  private closed = false
  startedAt = 0

  constructor (private readonly o: AppliedTrackerOptions) { this.now = o.now ?? Date.now }

  start (): void {
    this.startedAt = this.now()
    this.sub = this.o.nc.subscribe(this.o.subjects.allApplied, {
      callback: (err, m) => {
        if (err != null) return
        const d = decodeJson(m.data)
        if (!d.ok || checkApplied.problems(d.value) !== null) return
        const msg = checkApplied(d.value)
        const prev = this.renderers.get(msg.renderer)
        // A restarted renderer starts its generations again: take the newest message, whatever its number.
        if (prev !== undefined && prev.generation > msg.generation && this.now() - prev.at < this.o.silentMs) return
        this.renderers.set(msg.renderer, { renderer: msg.renderer, generation: msg.generation, containers: new Set(msg.containers), at: this.now() })
        for (const w of this.waiters) w()
      },
    })
  }

  live (): RendererState[] {
    const cutoff = this.now() - this.o.silentMs
    return [...this.renderers.values()].filter((r) => r.at >= cutoff)
  }

  /** Every live renderer's applied config lacks all of `ids`. */
  allLack (ids: string[]): boolean {
    return this.live().every((r) => ids.every((id) => !r.containers.has(id)))
  }

  /** Every live renderer routes `id`. */
  allHave (id: string): boolean {
    return this.live().every((r) => r.containers.has(id))
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
