// The agent's own HTTP health check, as container labels (DESIGN section 2):
// `driftgate.health.http=/healthz` opts a container in; interval, timeout,
// retries, start period and port are optional. Placement writes all of them
// on the replicas it starts; an operator's container may set just the path.
// Pure; a bad value rejects the container like any other bad label.
import { HEALTH_DEFAULTS, HEALTH_PATH_PATTERN, MIN_INTERVAL_MS, durationMs, parseDuration } from '../../core/index.js'

export const HEALTH_LABEL = {
  http: 'driftgate.health.http',
  port: 'driftgate.health.port',
  interval: 'driftgate.health.interval',
  timeout: 'driftgate.health.timeout',
  retries: 'driftgate.health.retries',
  startPeriod: 'driftgate.health.start-period',
} as const

/** What the agent probes: GET http://<ip>:<port><path>. */
export interface HttpCheck {
  path: string
  /** Absent: the endpoint's port. */
  port?: number
  intervalMs: number
  timeoutMs: number
  retries: number
  startPeriodMs: number
}

export type HealthLabelResult = { ok: true, check?: HttpCheck } | { ok: false, label: string, why: string }

const PATH = new RegExp(HEALTH_PATH_PATTERN)
const HOUR = 3_600_000

function ms (raw: string | undefined, fallback: string, min: number): number | undefined {
  const v = durationMs(raw ?? fallback)
  return v !== undefined && v >= min && v <= HOUR ? v : undefined
}

/** Parses the health labels; `{ ok: true }` without a check when the container has none. */
export function parseHealthLabels (labels: Record<string, string>): HealthLabelResult {
  const path = labels[HEALTH_LABEL.http]
  if (path === undefined || path === '') return { ok: true }
  const bad = (label: string, why: string): HealthLabelResult => ({ ok: false, label, why })
  if (path.length > 256 || !PATH.test(path)) return bad(HEALTH_LABEL.http, 'is not an HTTP path (/...)')
  const intervalMs = ms(labels[HEALTH_LABEL.interval], HEALTH_DEFAULTS.interval, 1)
  if (intervalMs === undefined) return bad(HEALTH_LABEL.interval, 'is not a duration up to 1h (e.g. 5s)')
  const timeoutMs = ms(labels[HEALTH_LABEL.timeout], HEALTH_DEFAULTS.timeout, 1)
  if (timeoutMs === undefined) return bad(HEALTH_LABEL.timeout, 'is not a duration up to 1h (e.g. 2s)')
  const startPeriodMs = ms(labels[HEALTH_LABEL.startPeriod], HEALTH_DEFAULTS.startPeriod, 0)
  if (startPeriodMs === undefined) return bad(HEALTH_LABEL.startPeriod, 'is not a duration up to 1h (e.g. 10s)')
  let retries: number = HEALTH_DEFAULTS.retries
  const r = labels[HEALTH_LABEL.retries]
  if (r !== undefined) {
    if (!/^[1-9]\d?$|^100$/.test(r)) return bad(HEALTH_LABEL.retries, 'is not a count (1-100)')
    retries = Number(r)
  }
  const check: HttpCheck = {
    path,
    intervalMs: Math.max(MIN_INTERVAL_MS, intervalMs),
    timeoutMs: Math.min(timeoutMs, Math.max(MIN_INTERVAL_MS, intervalMs)),
    retries,
    startPeriodMs,
  }
  const p = labels[HEALTH_LABEL.port]
  if (p !== undefined) {
    if (!/^[1-9]\d{0,4}$/.test(p) || Number(p) > 65535) return bad(HEALTH_LABEL.port, 'is not a port (1-65535)')
    check.port = Number(p)
  }
  return { ok: true, check }
}

/** The labels for a spec's HTTP check (placement's replicas). Durations as the spec wrote them. */
export function healthLabelsOf (h: { http?: string, port?: number, interval?: string, timeout?: string, retries?: number, startPeriod?: string } | undefined): Record<string, string> {
  if (h?.http === undefined) return {}
  const out: Record<string, string> = { [HEALTH_LABEL.http]: h.http }
  if (h.port !== undefined) out[HEALTH_LABEL.port] = String(h.port)
  out[HEALTH_LABEL.interval] = `${parseDuration(h.interval ?? HEALTH_DEFAULTS.interval)}ms`
  out[HEALTH_LABEL.timeout] = `${parseDuration(h.timeout ?? HEALTH_DEFAULTS.timeout)}ms`
  out[HEALTH_LABEL.retries] = String(h.retries ?? HEALTH_DEFAULTS.retries)
  out[HEALTH_LABEL.startPeriod] = `${parseDuration(h.startPeriod ?? HEALTH_DEFAULTS.startPeriod)}ms`
  return out
}
