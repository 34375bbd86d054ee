// What the agent ships: one JetStream message per batch of one container's
// lines, each line with Docker's own timestamp. Pure helpers: parse a
// `docker logs --timestamps` line, compare nanosecond timestamps, build the
// marker line that says how many lines were dropped.

/** `out`/`err` for the container's streams; `drop` for a marker the agent wrote. */
export type LogStreamName = 'out' | 'err' | 'drop'

export interface LogLine {
  /** Docker's RFC3339Nano timestamp, as Docker wrote it. */
  t: string
  s: LogStreamName
  m: string
  /** On a `drop` marker: how many lines it stands for. */
  n?: number
}

export interface LogBatch {
  v: 1
  service: string
  replica?: number
  host: string
  /** 12-hex container id (the subject's last token). */
  container: string
  lines: LogLine[]
}

/** Docker splits longer lines itself (16 KiB); anything beyond is cut here. */
export const MAX_LINE = 16 * 1024

/** `2026-11-28T22:56:07.123456789Z hello` → { t, m }; null when there is no timestamp. */
export function parseDockerLine (raw: string): { t: string, m: string } | null {
  const sp = raw.indexOf(' ')
  const t = sp < 0 ? raw : raw.slice(0, sp)
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(t)) return null
  const m = sp < 0 ? '' : raw.slice(sp + 1)
  return { t, m: m.length > MAX_LINE ? m.slice(0, MAX_LINE) : m }
}

/** Nanoseconds since the epoch of an RFC3339(Nano) timestamp (Docker trims trailing zeros). */
export function tsNanos (t: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(t)
  if (m == null) return 0n
  const sec = Date.parse(`${m[1]}${m[3]}`)
  if (Number.isNaN(sec)) return 0n
  return BigInt(sec) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))
}

/** `…:07.5Z` → `…:07.500000000Z`. */
function utcKey (t: string): string {
  const dot = t.indexOf('.', 17)
  const frac = dot < 0 ? '' : t.slice(dot + 1, -1)
  return `${dot < 0 ? t.slice(0, -1) : t.slice(0, dot)}.${frac.padEnd(9, '0')}`
}

/** Docker's `since` takes `<seconds>.<nanoseconds>`. */
export function sinceParam (t: string): string {
  const n = tsNanos(t)
  return `${n / 1_000_000_000n}.${String(n % 1_000_000_000n).padStart(9, '0')}`
}

export function compareTs (a: string, b: string): number {
  if (a === b) return 0
  // Docker writes UTC: fixed-width strings compare as times, without BigInt.
  if (a.endsWith('Z') && b.endsWith('Z')) {
    const x = utcKey(a)
    const y = utcKey(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
  const x = tsNanos(a)
  const y = tsNanos(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** `… 1,234 lines dropped (rate limit)` at the time of the first line kept after them. */
export function dropMarker (t: string, n: number, why: string): LogLine {
  return { t, s: 'drop', m: `… ${n.toLocaleString('en-US')} lines dropped (${why})`, n }
}

/** Approximate size on the wire (budgets count it). */
export function lineBytes (l: LogLine): number {
  return l.m.length + l.t.length + 16
}
