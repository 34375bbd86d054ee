// One log line as the registry's API serves it and `driftgate logs` prints
// it. Pure: ordering by Docker's nanosecond timestamps, the
// `web.2@h1 | ` prefix of `docker service logs`.

export interface LogEntry {
  /** Docker's RFC3339Nano timestamp. */
  t: string
  /** stdout, stderr, or `dropped` for the agent's marker of lines it had to drop. */
  stream: 'stdout' | 'stderr' | 'dropped'
  service: string
  replica?: number
  host: string
  container: string
  line: string
}

/** Fixed-width sort key: RFC3339 with the fraction padded to 9 digits (UTC only, as Docker writes it). */
export function timeKey (t: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(t)
  return m == null ? t : `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`
}

/** Stable sort by timestamp: lines of one container keep their order when timestamps tie. */
export function sortByTime (entries: LogEntry[]): LogEntry[] {
  return entries
    .map((e, i) => ({ e, i, k: timeKey(e.t) }))
    .sort((a, b) => a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i)
    .map((x) => x.e)
}

/** `web.2@h1` (or `web.3f2a9c1b0d4e@h1` for a container without a replica number). */
export function entryPrefix (e: LogEntry): string {
  return `${e.service}.${e.replica ?? e.container}@${e.host}`
}

export function formatEntry (e: LogEntry, width = 0): string {
  return `${entryPrefix(e).padEnd(width)} | ${e.line}`
}
