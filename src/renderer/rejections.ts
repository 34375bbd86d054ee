// Reporting nginx -t rejections: every one is counted, but the same refusal
// (same file, same nginx message) is logged once, not on every retry or
// every later change that renders the same bad file again.
import type { Counter } from 'prom-client'
import type { Logger, NginxRejectedError } from '../core/index.js'

const MAX_REMEMBERED = 1000

export class RejectionLog {
  private readonly seen = new Set<string>()

  constructor (private readonly log: Logger, private readonly counter: Counter) {}

  report (err: NginxRejectedError, file: string | null): void {
    this.counter.inc()
    const output = err.output.trim()
    const key = `${file ?? ''}\n${output}`
    if (this.seen.has(key)) return
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear()
    this.seen.add(key)
    this.log.error({ file, output }, 'nginx -t rejected the rendered config; previous files restored')
  }

  /** After a successful apply the same refusal is news again. */
  reset (): void { this.seen.clear() }
}
