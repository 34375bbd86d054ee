// Resume without gap or duplicate: the last message the stream holds for a
// container's subject is the cursor. Docker is asked for lines `since` that
// line's timestamp (inclusive, to the nanosecond), and the lines at exactly
// that timestamp which the stream already has are skipped by content.
import { compareTs, type LogBatch, type LogLine } from './record.js'

export interface Cursor {
  /** Timestamp of the last line stored. */
  t: string
  /** Lines stored at exactly `t` (stream + content, counted: the same line twice at one timestamp is two lines). */
  atT: Map<string, number>
}

const key = (l: LogLine): string => `${l.s}\u0000${l.m}`

/**
 * The cursor after a batch (or `prev` for a batch of markers only). Runs for
 * every batch, so it walks back from the end: Docker writes one container's
 * lines in time order, and equal times are equal strings (RFC3339Nano, UTC).
 */
export function cursorAfter (lines: readonly LogLine[], prev?: Cursor): Cursor | undefined {
  let last = lines.length - 1
  while (last >= 0 && lines[last].s === 'drop') last--
  if (last < 0) return prev
  const t = lines[last].t
  const c = prev === undefined ? 1 : compareTs(t, prev.t)
  if (c < 0) return prev
  const atT = c === 0 && prev !== undefined ? new Map(prev.atT) : new Map<string, number>()
  // Same timestamp in this batch, oldest first (the counts do not depend on the order).
  for (let k = last; k >= 0 && (lines[k].t === t || lines[k].s === 'drop'); k--) {
    if (lines[k].s !== 'drop') atT.set(key(lines[k]), (atT.get(key(lines[k])) ?? 0) + 1)
  }
  return { t, atT }
}

export function cursorOfBatch (b: LogBatch | undefined): Cursor | undefined {
  return b === undefined ? undefined : cursorAfter(b.lines)
}

/**
 * A filter for the lines Docker sends again after a resume: older than the
 * cursor → already stored; at its timestamp → stored as many times as the
 * cursor counted; newer → new.
 */
export function resumeFilter (cursor: Cursor | undefined): (l: LogLine) => boolean {
  if (cursor === undefined) return () => true
  const left = new Map(cursor.atT)
  return (l) => {
    const c = compareTs(l.t, cursor.t)
    if (c > 0) return true
    if (c < 0) return false
    const n = left.get(key(l)) ?? 0
    if (n === 0) return true
    left.set(key(l), n - 1)
    return false
  }
}
