// The autoscaler's decision: a pure function following the Kubernetes HPA
// rule. Per metric, desired = ceil(current × usage / target), nothing when
// usage is within the tolerance band of the target; the highest over the
// metrics wins; scale-down takes the highest recommendation over the
// scale-down window, scale-up the lowest over the scale-up window; the
// result is clamped to [min, max]. Replicas that report no metric count as
// 0 when scaling up and as exactly on target when scaling down (HPA's rule),
// and a metric with no data at all recommends the current count, so it can
// never scale down. While replicas are unschedulable nothing changes.
export const TOLERANCE = 0.1

export interface Recommendation { at: number, replicas: number }

export interface AutoscalePolicy {
  min: number
  max: number
  /** Percent of each replica's CPU limit. */
  cpu?: number
  requestsPerReplica?: number
  upMs: number
  downMs: number
}

export interface AutoscaleInput {
  now: number
  /** The spec's replica count now. */
  current: number
  policy: AutoscalePolicy
  /** CPU percent of each replica that reported (fresh reports only). */
  cpu?: number[]
  /** Requests per second to the whole service (undefined: no fresh figure). */
  requestsPerSec?: number
  /** Replicas of this service placement could not place. */
  unschedulable: number
  /** Earlier raw recommendations (what the last decision returned). */
  recommendations: Recommendation[]
  tolerance?: number
}

export type MetricName = 'cpu' | 'requestsPerReplica'

export interface MetricView {
  name: MetricName
  /** Average per replica (percent, or requests per second); null when missing. */
  current: number | null
  target: number
  /** What this metric alone asks for. */
  replicas: number
  /** Replicas that reported (cpu). */
  reporting?: number
}

export interface AutoscaleDecision {
  desired: number
  action: 'up' | 'down' | 'hold'
  /** Before stabilization and clamping. */
  recommended: number
  reason: string
  metrics: MetricView[]
  /** To pass back as `recommendations` next time. */
  recommendations: Recommendation[]
}

const round = (x: number): number => Math.round(x * 10) / 10
const unit = (m: MetricName): string => (m === 'cpu' ? '%' : ' req/s per replica')

/** HPA's replica calculation for an average-per-replica metric. */
function byUsage (current: number, usage: number, target: number, tolerance: number): number {
  const ratio = usage / target
  return Math.abs(ratio - 1) <= tolerance ? current : Math.ceil(current * ratio)
}

function cpuMetric (i: AutoscaleInput, target: number, tol: number): MetricView {
  const values = i.cpu ?? []
  if (values.length === 0) return { name: 'cpu', current: null, target, replicas: i.current, reporting: 0 }
  const sum = values.reduce((a, b) => a + b, 0)
  const avg = sum / values.length
  const missing = Math.max(0, i.current - values.length)
  let replicas = byUsage(i.current, avg, target, tol)
  if (missing > 0 && byUsage(values.length, avg, target, tol) !== values.length) {
    // Missing replicas: 0 % when the others ask for more, on target when they ask for fewer.
    const up = avg > target
    const adjusted = (sum + (up ? 0 : missing * target)) / i.current
    replicas = (adjusted > target) !== up ? i.current : byUsage(i.current, adjusted, target, tol)
  } else if (missing > 0) {
    replicas = i.current
  }
  return { name: 'cpu', current: round(avg), target, replicas, reporting: values.length }
}

function requestsMetric (i: AutoscaleInput, target: number, tol: number): MetricView {
  if (i.requestsPerSec === undefined || i.current === 0) return { name: 'requestsPerReplica', current: null, target, replicas: i.current }
  const usage = i.requestsPerSec / i.current
  return { name: 'requestsPerReplica', current: round(usage), target, replicas: byUsage(i.current, usage, target, tol) }
}

/** Keeps only what a later window could still need: an entry with a later one ≥ it and a later one ≤ it never decides. */
export function compact (recs: Recommendation[], now: number, keepMs: number): Recommendation[] {
  const kept: Recommendation[] = []
  let laterMax = -Infinity
  let laterMin = Infinity
  for (let k = recs.length - 1; k >= 0; k--) {
    const r = recs[k]
    if (r.at <= now - keepMs) break
    if (r.replicas > laterMax || r.replicas < laterMin) kept.push(r)
    laterMax = Math.max(laterMax, r.replicas)
    laterMin = Math.min(laterMin, r.replicas)
  }
  return kept.reverse()
}

export function decideReplicas (i: AutoscaleInput): AutoscaleDecision {
  const { policy: p, current, now } = i
  const tol = i.tolerance ?? TOLERANCE
  const metrics: MetricView[] = []
  if (p.cpu !== undefined) metrics.push(cpuMetric(i, p.cpu, tol))
  if (p.requestsPerReplica !== undefined) metrics.push(requestsMetric(i, p.requestsPerReplica, tol))
  const top = metrics.reduce((a, b) => (b.replicas > a.replicas ? b : a), metrics[0])
  // Capped so a wild figure stays a number the status record can hold; the clamp to max comes later.
  const recommended = Math.min(current === 0 ? p.min : top?.replicas ?? current, 1_000_000)

  // HPA stabilization: the lowest recommendation over the up window, the highest over the down window.
  let upRec = recommended
  let downRec = recommended
  for (const r of i.recommendations) {
    if (r.at > now - p.upMs) upRec = Math.min(upRec, r.replicas)
    if (r.at > now - p.downMs) downRec = Math.max(downRec, r.replicas)
  }
  let stabilized = current
  if (stabilized < upRec) stabilized = upRec
  if (stabilized > downRec) stabilized = downRec
  const clamped = Math.min(p.max, Math.max(p.min, stabilized))
  const recommendations = compact([...i.recommendations, { at: now, replicas: recommended }], now, Math.max(p.upMs, p.downMs))

  const outside = Math.min(p.max, Math.max(p.min, current))
  let desired = clamped
  let reason: string
  if (i.unschedulable > 0) {
    desired = outside
    reason = `hold: ${i.unschedulable} replica${i.unschedulable === 1 ? '' : 's'} unschedulable`
    if (desired !== current) reason = `${current < p.min ? `below min ${p.min}` : `above max ${p.max}`}; ${reason}`
  } else {
    reason = explain(i, metrics, recommended, stabilized, clamped)
  }
  return { desired, action: desired > current ? 'up' : desired < current ? 'down' : 'hold', recommended, reason, metrics, recommendations }
}

function describe (m: MetricView): string {
  return m.current === null ? `${m.name}: no data` : `${m.name === 'cpu' ? 'cpu' : 'requests'} ${m.current}${unit(m.name)} (target ${m.target}${unit(m.name)})`
}

function explain (i: AutoscaleInput, metrics: MetricView[], recommended: number, stabilized: number, desired: number): string {
  const { current, policy: p } = i
  if (current === 0) return `no replicas: start at min ${p.min}`
  const range = current < p.min ? `below min ${p.min}` : `above max ${p.max}`
  if (metrics.every((m) => m.current === null)) return desired === current ? 'hold: no metrics yet' : `no metrics yet; ${range}`
  const seen = metrics.map(describe).join(', ')
  const clamp = desired !== stabilized ? (desired === p.max ? `, max ${p.max}` : `, min ${p.min}`) : ''
  if (desired > current || desired < current) {
    const windowed = stabilized !== recommended
      ? (desired > current ? `, lowest over the scale-up window ${ms(p.upMs)}: ${stabilized}` : `, highest over the scale-down window ${ms(p.downMs)}: ${stabilized}`)
      : ''
    return `${desired > current ? 'up' : 'down'}: ${seen} wants ${recommended}${windowed}${clamp}`
  }
  if (recommended === current) return `hold: ${seen}: within tolerance`
  if (stabilized === current) {
    const win = recommended < current ? `the scale-down window ${ms(p.downMs)}` : `the scale-up window ${ms(p.upMs)}`
    return `hold: ${seen} wants ${recommended}; ${win} keeps ${current}`
  }
  return `hold: ${seen} wants ${recommended}; at ${desired === p.max ? `max ${p.max}` : `min ${p.min}`}`
}

function ms (n: number): string {
  return n % 60_000 === 0 && n > 0 ? `${n / 60_000}m` : n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`
}
