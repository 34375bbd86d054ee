// What to write to driftgate_assignments to turn the current table into the
// scheduler's answer. Pure. Creates come before deletes, so a moved replica
// starts on its new host before its old key goes away.
import { assignmentKey, type AssignmentRecord } from '../core/index.js'

export type AssignmentWrite =
  | { op: 'create', key: string, value: AssignmentRecord }
  | { op: 'update', key: string, value: AssignmentRecord, revision: number }
  | { op: 'delete', key: string, revision: number }

export function sameAssignment (a: AssignmentRecord, b: AssignmentRecord): boolean {
  return a.host === b.host && a.service === b.service && a.replica === b.replica &&
    a.specVersion === b.specVersion && a.specHash === b.specHash && a.since === b.since &&
    // A replacement (issue 19) bumps the incarnation and appends to replacedAt.
    (a.incarnation ?? 0) === (b.incarnation ?? 0) && (a.replacedAt?.length ?? 0) === (b.replacedAt?.length ?? 0)
}

export function diffAssignments (current: ReadonlyMap<string, AssignmentRecord>, desired: AssignmentRecord[],
  revisions: ReadonlyMap<string, number>): AssignmentWrite[] {
  const creates: AssignmentWrite[] = []
  const updates: AssignmentWrite[] = []
  const deletes: AssignmentWrite[] = []
  const wanted = new Set<string>()
  for (const value of desired) {
    const key = assignmentKey(value)
    wanted.add(key)
    const cur = current.get(key)
    if (cur === undefined) creates.push({ op: 'create', key, value })
    else if (!sameAssignment(cur, value)) updates.push({ op: 'update', key, value, revision: revisions.get(key) ?? 0 })
  }
  for (const key of current.keys()) {
    if (!wanted.has(key)) deletes.push({ op: 'delete', key, revision: revisions.get(key) ?? 0 })
  }
  return [...creates, ...updates, ...deletes]
}

/** Host record changes that matter to placement (heartbeats rewrite lastSeen every few seconds). */
export function hostMatters (prev: { status: string, capacity: object, labels: object } | undefined,
  next: { status: string, capacity: object, labels: object } | undefined): boolean {
  if (prev === undefined || next === undefined) return true
  return prev.status !== next.status || JSON.stringify(prev.capacity) !== JSON.stringify(next.capacity) ||
    JSON.stringify(prev.labels) !== JSON.stringify(next.labels)
}
