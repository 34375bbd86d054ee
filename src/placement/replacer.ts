// The leader's side of replacing unhealthy replicas (issue 19): builds the
// decision's input from the assignments, specs and replica health, bumps
// the incarnation of each replica to replace (the diff writes it as an
// update; its agent does the rolling replacement), and wakes the loop when
// a waiting or backed-off replica's time comes. Verdict changes are logged
// and handed to `onDecision` (the activity feed).
import { MAX_REPLACED_AT, healthSettings, type AssignmentRecord, type Logger, type ServiceRecord } from '../core/index.js'
import { REPLACE_DEFAULTS, decideReplacements, type Decision, type ReplacePolicy, type ReplicaInput, type ServicePolicy } from './replace.js'
import type { ReplicaHealth } from './replica-health.js'

/** The decision over the current tables (the leader acts on it; GET /v1/placement shows it). */
export function replacementDecisions (assignments: Iterable<AssignmentRecord>, services: Iterable<ServiceRecord>,
  health: ReplicaHealth, now: number, policy: ReplacePolicy = REPLACE_DEFAULTS): Decision[] {
  const policies = new Map<string, ServicePolicy>()
  for (const { spec } of services) {
    const h = healthSettings(spec.health)
    // Only a service with a health check has replicas that can be unhealthy.
    if (h.kind !== 'none') policies.set(spec.name, { replicas: spec.replicas, replaceAfterMs: h.replaceAfterMs })
  }
  const inputs: ReplicaInput[] = []
  for (const a of assignments) {
    if (!policies.has(a.service)) continue
    const key = `${a.host}.${a.service}.${a.replica}`
    const v = health.view(key)
    inputs.push({ key, service: a.service, replica: a.replica, status: v.status, unhealthySince: v.unhealthySince, replacedAt: a.replacedAt ?? [] })
  }
  return decideReplacements(inputs, policies, now, policy)
}

export interface ReplacerOptions {
  health: ReplicaHealth
  log: Logger
  /** Runs the placement loop (debounced by it). */
  trigger: () => void
  policy?: ReplacePolicy
  onDecision?: (d: Decision, now: number) => void
}

export class Replacer {
  last: Decision[] = []
  private timer?: NodeJS.Timeout
  private readonly verdicts = new Map<string, string>()
  private readonly onHealth = (): void => { this.o.trigger() }

  constructor (private readonly o: ReplacerOptions) {
    o.health.on('change', this.onHealth)
  }

  /** The desired assignments with the replicas to replace now given a new incarnation. */
  apply (desired: AssignmentRecord[], services: Iterable<ServiceRecord>, now: number): AssignmentRecord[] {
    const decisions = replacementDecisions(desired, services, this.o.health, now, this.o.policy)
    this.last = decisions
    this.note(decisions, now)
    this.wakeAt(decisions, now)
    const replace = new Set(decisions.filter((d) => d.verdict === 'replace').map((d) => d.key))
    if (replace.size === 0) return desired
    return desired.map((a) => {
      if (!replace.has(`${a.host}.${a.service}.${a.replica}`)) return a
      const replacedAt = [...(a.replacedAt ?? []), now].slice(-MAX_REPLACED_AT)
      return { ...a, incarnation: (a.incarnation ?? 0) + 1, replacedAt }
    })
  }

  private note (decisions: Decision[], now: number): void {
    const seen = new Set<string>()
    for (const d of decisions) {
      seen.add(d.key)
      if (this.verdicts.get(d.key) === d.verdict) continue
      this.verdicts.set(d.key, d.verdict)
      const fields = { service: d.service, replica: d.replica, key: d.key, verdict: d.verdict, reason: d.reason }
      if (d.verdict === 'replace' || d.verdict === 'backoff' || d.verdict === 'capped') this.o.log.warn(fields, `placement: replica ${d.verdict === 'replace' ? 'replaced' : d.verdict}`)
      else this.o.log.info(fields, `placement: replica ${d.verdict}`)
      this.o.onDecision?.(d, now)
    }
    for (const k of [...this.verdicts.keys()]) if (!seen.has(k)) this.verdicts.delete(k)
  }

  /** One timer, at the earliest time a verdict may change by itself. */
  private wakeAt (decisions: Decision[], now: number): void {
    clearTimeout(this.timer)
    const next = Math.min(...decisions.map((d) => d.until ?? Infinity))
    if (!Number.isFinite(next)) return
    this.timer = setTimeout(() => { this.o.trigger() }, Math.max(10, next - now + 5))
    this.timer.unref()
  }

  close (): void {
    clearTimeout(this.timer)
    this.o.health.off('change', this.onHealth)
  }
}
