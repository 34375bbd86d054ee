// What status and GET /v1/placement show per autoscaled service: its range
// and targets from the spec, and the placement leader's last evaluation
// (metric values, decision, reason) and last change from the leases bucket.
import type { KV } from 'nats'
import {
  autoscaleStatusKey, checkAutoscaleStatus,
  type AutoscaleChange, type AutoscaleMetricStatus, type AutoscaleStatusRecord, type ServiceRecord,
} from '../../core/index.js'
import { decodeJson } from '../../bus/index.js'

export interface AutoscaleView {
  service: string
  min: number
  max: number
  replicas: number
  targets: { cpu?: number, requestsPerReplica?: number }
  /** Current values and what each metric asks for (from the last evaluation). */
  metrics: AutoscaleMetricStatus[]
  /** The last evaluation; null before the leader has made one. */
  decision: { at: number, action: AutoscaleStatusRecord['action'], desired: number, reason: string } | null
  lastChange: AutoscaleChange | null
}

export function autoscaleView (rec: ServiceRecord, s: AutoscaleStatusRecord | null): AutoscaleView | null {
  const a = rec.spec.autoscale
  if (a === undefined) return null
  const targets = { ...(a.cpu !== undefined ? { cpu: a.cpu } : {}), ...(a.requestsPerReplica !== undefined ? { requestsPerReplica: a.requestsPerReplica } : {}) }
  return {
    service: rec.spec.name, min: a.min, max: a.max, replicas: rec.spec.replicas, targets,
    metrics: s?.metrics ?? [],
    decision: s !== null ? { at: s.at, action: s.action, desired: s.desired, reason: s.reason } : null,
    lastChange: s?.lastChange ?? null,
  }
}

export async function readAutoscaleStatus (leases: KV, service: string): Promise<AutoscaleStatusRecord | null> {
  const e = await leases.get(autoscaleStatusKey(service)).catch(() => null)
  if (e == null || e.operation !== 'PUT') return null
  const d = decodeJson(e.value)
  return d.ok && checkAutoscaleStatus.problems(d.value) === null ? d.value as AutoscaleStatusRecord : null
}

/** Every autoscaled service's view, sorted by name. */
export async function autoscaleViews (leases: KV, services: Iterable<ServiceRecord>): Promise<AutoscaleView[]> {
  const recs = [...services].filter((r) => r.spec.autoscale !== undefined).sort((a, b) => a.spec.name.localeCompare(b.spec.name))
  const statuses = await Promise.all(recs.map(async (r) => await readAutoscaleStatus(leases, r.spec.name)))
  return recs.map((r, i) => autoscaleView(r, statuses[i])).filter((v): v is AutoscaleView => v !== null)
}
