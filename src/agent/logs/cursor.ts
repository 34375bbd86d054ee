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

/** The cursor after a batch (or undefined for a batch of markers only). */
export function cursorAfter (lines: readonly LogLine[], prev?: Cursor): Cursor | undefined {
  let cur = prev
  for (const l of lines) {
    if (l.s === 'drop') continue
    if (cur === undefined || compareTs(l.t, cur.t) > 0) cur = { t: l.t, atT: new Map() }
    else if (compareTs(l.t, cur.t) < 0) continue
    else if (cur === prev) cur = { t: cur.t, atT: new Map(cur.atT) } // never mutate the caller's
    cur.atT.set(key(l), (cur.atT.get(key(l)) ?? 0) + 1)
  }
  return cur
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
