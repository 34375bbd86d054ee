// Skipped containers: warned about and counted once per container and
// reason, not again at every resync, so the metric counts containers.
import type { Logger } from '../../core/index.js'
import type { RejectReason } from './labels.js'
import type { AgentMetrics } from '../metrics.js'

export class Rejections {
  private readonly seen = new Map<string, Set<string>>()

  constructor (private readonly metrics: AgentMetrics, private readonly log: Logger, private readonly max = 10_000) {}

  note (containerId: string, reason: RejectReason, message: string): void {
    let reasons = this.seen.get(containerId)
    if (reasons?.has(reason) === true) return
    if (reasons == null) {
      if (this.seen.size >= this.max) this.seen.clear() // bounded memory; worst case a repeat warning
      reasons = new Set()
      this.seen.set(containerId, reasons)
    }
    reasons.add(reason)
    this.metrics.rejected.inc({ reason })
    this.log.warn({ containerId, reason, message }, 'container skipped')
  }

  forget (containerId: string): void { this.seen.delete(containerId) }
}
