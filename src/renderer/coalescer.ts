// Merges bursts of changes into few runs (render + nginx -t + reload).
// - never more than one run in flight;
// - the first change after a quiet period runs at once (low latency);
// - within a burst, a run waits until no change came for `minWaitMs`, but
//   never longer than `maxWaitMs` after the first unapplied change (bounded
//   staleness under a never-ending stream of changes).
export interface Clock {
  now: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

export interface CoalescerOptions {
  minWaitMs: number
  maxWaitMs: number
  /** The work. Its errors are passed to onError; they never stop the coalescer. */
  run: () => Promise<void>
  onError?: (err: unknown) => void
  clock?: Clock
}

export class Coalescer {
  private readonly clock: Clock
  private running: Promise<void> | null = null
  private timer: unknown = null
  private dirty = false
  /** When the oldest change not yet picked up by a run arrived. */
  private firstPending = 0
  private lastChange = -Infinity
  private closed = false
  runs = 0

  constructor (private readonly opts: CoalescerOptions) {
    this.clock = opts.clock ?? realClock
  }

  /**
   * Changes the quiet window (lua mode: a push costs about a millisecond, so
   * changes go out at once; those arriving during a run still form one batch).
   */
  setMinWait (ms: number): void { this.opts.minWaitMs = ms }

  /** Something changed. */
  trigger (): void {
    if (this.closed) return
    const now = this.clock.now()
    const quiet = now - this.lastChange >= this.opts.minWaitMs
    this.lastChange = now
    if (!this.dirty) { this.dirty = true; this.firstPending = now }
    if (this.running != null) return // picked up when the run ends
    if (this.timer == null && quiet) { this.start(); return }
    this.schedule()
  }

  private schedule (): void {
    if (this.timer != null) this.clock.clearTimeout(this.timer)
    const now = this.clock.now()
    const at = Math.min(this.lastChange + this.opts.minWaitMs, this.firstPending + this.opts.maxWaitMs)
    this.timer = this.clock.setTimeout(() => { this.timer = null; this.start() }, Math.max(0, at - now))
  }

  private start (): void {
    if (this.closed || this.running != null || !this.dirty) return
    this.dirty = false
    this.runs++
    this.running = (async () => {
      try { await this.opts.run() } catch (err) { this.opts.onError?.(err) }
    })().finally(() => {
      this.running = null
      if (this.dirty && !this.closed) this.schedule()
    })
  }

  /** Resolves when nothing is running or pending (for tests and close). */
  async idle (): Promise<void> {
    while (this.running != null || (this.timer != null && !this.closed)) {
      if (this.running != null) await this.running
      else await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }

  /** Stops scheduling; waits for a run in flight. Idempotent. */
  async close (): Promise<void> {
    this.closed = true
    if (this.timer != null) { this.clock.clearTimeout(this.timer); this.timer = null }
    if (this.running != null) await this.running
  }
}
