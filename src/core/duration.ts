// Human durations and sizes as operators write them in specs and flags.
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** "250ms", "5s", "1.5m", "2h" → milliseconds; a bare number is milliseconds. */
export function parseDuration (value: string | number): number {
  if (typeof value === 'number') return value
  const m = DURATION.exec(value.trim())
  if (m == null) throw new Error(`invalid duration "${value}": use a number with ms, s, m or h (e.g. 30s)`)
  return Math.round(Number(m[1]) * UNIT_MS[m[2]])
}

export const DURATION_PATTERN = '^\\d+(\\.\\d+)?(ms|s|m|h)$'

/** Milliseconds, or undefined when `value` is not a duration (no throw: schema keywords call it). */
export function durationMs (value: string): number | undefined {
  return DURATION.test(value.trim()) ? parseDuration(value) : undefined
}

/** One hour: the ceiling of every spec duration (grace period, health interval, fail timeout). */
export const MAX_SPEC_DURATION = '1h'

/**
 * nginx's `fail_timeout` is parsed in seconds: no `ms`, no fraction ("250ms"
 * and "1.5s" make `nginx -t` fail). Whole seconds, minutes or hours only.
 */
export const NGINX_SECONDS_PATTERN = '^\\d{1,4}(s|m|h)$'

const SIZE = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?$/
const UNIT_BYTES: Record<string, number> = {
  '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
}

/** "256Mi", "1Gi", "512M", 1048576 → bytes. */
export function parseSize (value: string | number): number {
  if (typeof value === 'number') return value
  const m = SIZE.exec(value.trim())
  if (m == null) throw new Error(`invalid size "${value}": use a number with Ki, Mi, Gi (e.g. 256Mi)`)
  return Math.round(Number(m[1]) * UNIT_BYTES[m[2] ?? ''])
}

/** Bytes, or undefined when `value` is not a size. */
export function sizeBytes (value: string): number | undefined {
  return SIZE.test(value.trim()) ? parseSize(value) : undefined
}

export const SIZE_PATTERN = '^\\d+(\\.\\d+)?(Ki|Mi|Gi|Ti|K|M|G|T|k)?$'
