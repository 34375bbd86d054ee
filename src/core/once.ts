import type { Logger } from './logger.js'

/**
 * Logs a warning the first time a reason is seen, then only counts it, so a
 * flood of bad input cannot flood the logs. `summary()` gives the counts.
 */
export class LogOnce {
  private readonly seen = new Map<string, number>()
  constructor (private readonly log: Logger, private readonly max = 1000) {}

  warn (reason: string, fields: Record<string, unknown>, msg: string): void {
    const n = this.seen.get(reason) ?? 0
    if (n === 0 && this.seen.size < this.max) this.log.warn({ reason, ...fields }, msg)
    if (n > 0 || this.seen.size < this.max) this.seen.set(reason, n + 1)
  }

  summary (): Record<string, number> { return Object.fromEntries(this.seen) }
}
