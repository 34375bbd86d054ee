// The spec's `health` block (DESIGN section 5, issue 19): an HTTP check the
// agent makes from the host, or a command Docker runs inside the container,
// and how long a replica may stay unhealthy before placement replaces it.
import { DURATION_PATTERN, MAX_SPEC_DURATION, parseDuration } from './duration.js'

const duration = (min?: string) =>
  ({ type: 'string', maxLength: 32, pattern: DURATION_PATTERN, durationRange: { min, max: MAX_SPEC_DURATION } }) as const

/** An HTTP path as it may appear in a label, a request line and a template. */
export const HEALTH_PATH_PATTERN = '^/[A-Za-z0-9._~/?&=%-]*$'

export const healthSpecSchema = {
  type: 'object',
  properties: {
    http: { type: 'string', pattern: HEALTH_PATH_PATTERN, maxLength: 256 },
    cmd: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 4096 } },
    /** The port the HTTP check asks (default: the spec's port). */
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    // As before issue 19 (stored specs stay valid); the agent probes at most every 100ms.
    interval: duration('1ms'),
    timeout: duration('1ms'),
    retries: { type: 'integer', minimum: 1, maximum: 100 },
    startPeriod: duration(),
    replaceAfter: duration('1s'),
  },
  // One kind of check: `http` (agent) or `cmd` (Docker), never both.
  not: { required: ['http', 'cmd'] },
  additionalProperties: false,
} as const

export interface HealthSpec {
  http?: string
  cmd?: string[]
  port?: number
  interval?: string
  timeout?: string
  retries?: number
  startPeriod?: string
  replaceAfter?: string
}

/** A health block with every default filled in, in milliseconds. */
export interface HealthSettings {
  kind: 'http' | 'cmd' | 'none'
  intervalMs: number
  timeoutMs: number
  retries: number
  startPeriodMs: number
  replaceAfterMs: number
}

/** The agent's probe timer never runs faster than this. */
export const MIN_INTERVAL_MS = 100

export const HEALTH_DEFAULTS = Object.freeze({ interval: '5s', timeout: '2s', retries: 3, startPeriod: '10s', replaceAfter: '30s' })

export function healthSettings (h: HealthSpec | undefined): HealthSettings {
  const kind = h?.http !== undefined ? 'http' : h?.cmd !== undefined ? 'cmd' : 'none'
  const intervalMs = Math.max(MIN_INTERVAL_MS, parseDuration(h?.interval ?? HEALTH_DEFAULTS.interval))
  return {
    kind,
    intervalMs,
    // A timeout longer than the interval would overlap probes: capped at it.
    timeoutMs: Math.min(parseDuration(h?.timeout ?? HEALTH_DEFAULTS.timeout), intervalMs),
    retries: h?.retries ?? HEALTH_DEFAULTS.retries,
    startPeriodMs: parseDuration(h?.startPeriod ?? HEALTH_DEFAULTS.startPeriod),
    replaceAfterMs: parseDuration(h?.replaceAfter ?? HEALTH_DEFAULTS.replaceAfter),
  }
}
