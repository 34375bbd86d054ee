import { randomBytes } from 'node:crypto'

/**
 * A new agent instance id, sortable by start time: 9 base36 chars of epoch
 * milliseconds then 6 random hex chars. Comparing two ids as strings orders
 * two runs of the same host's agent, which is what (instance, seq) ordering
 * of events relies on.
 */
export function newInstanceId (now = Date.now()): string {
  return `${now.toString(36).padStart(9, '0')}-${randomBytes(3).toString('hex')}`
}

export const INSTANCE_PATTERN = '^[0-9a-z]{9}-[0-9a-f]{6}$'

/** <0 when (a, aSeq) is older than (b, bSeq), 0 when equal, >0 when newer. */
export function compareVersion (a: string, aSeq: number, b: string, bSeq: number): number {
  if (a !== b) return a < b ? -1 : 1
  return aSeq - bSeq
}
