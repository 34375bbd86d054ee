// Per-container token bucket on lines: a container that floods its output
// loses lines beyond the rate (counted), instead of stalling the agent.

export class LineRateLimit {
  private tokens: number
  private last: number

  /** `perSecond` lines, bursts of up to `burst`. */
  constructor (private readonly perSecond: number, private readonly burst: number, private readonly now: () => number = Date.now) {
    this.tokens = burst
    this.last = now()
  }

  /** True when the line may pass. */
  take (): boolean {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + (t - this.last) * this.perSecond / 1000)
    this.last = t
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
