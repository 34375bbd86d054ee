// Every NATS subject driftgate uses (DESIGN section 3), built in one place.
export const DEFAULT_PREFIX = 'driftgate'

export interface Subjects {
  prefix: string
  events: (host: string) => string
  snapshot: (host: string) => string
  heartbeat: (host: string) => string
  applied: (renderer: string) => string
  /** `<prefix>.applied.<renderer>.routes`: request/reply, which of these ids does the renderer route (drains beyond the inline list). */
  routes: (renderer: string) => string
  /** `<prefix>.ipam.<host>.<op>`: the host is the subject's, so NATS permissions can bind an agent to its own. */
  ipam: (host: string, op: string) => string
  /** Wildcards for subscribers. */
  allEvents: string
  allSnapshots: string
  allHeartbeats: string
  allApplied: string
  allIpam: string
  /** `<prefix>.logs.<service>.<host>.<container>`: one subject per container, so the stream's last message for it is the agent's cursor. */
  logs: (service: string, host: string, container: string) => string
  /** Every container of one service (the registry's log reads). */
  serviceLogs: (service: string) => string
  /** Subjects captured by the DRIFTGATE_LOGS stream. */
  allLogs: string
  /** Subjects captured by the DRIFTGATE_EVENTS stream. */
  streamSubjects: string[]
  /** `<prefix>.stats.host.<host>`: CPU use of the host's managed containers (agent → registry, core NATS). */
  hostStats: (host: string) => string
  allHostStats: string
  /** `<prefix>.stats.renderer.<renderer>`: a lua-mode renderer's per-service counters (core NATS, not stored). */
  rendererStats: (renderer: string) => string
  allRendererStats: string
}

export function subjects (prefix = DEFAULT_PREFIX): Subjects {
  return {
    prefix,
    events: (h) => `${prefix}.events.${h}`,
    snapshot: (h) => `${prefix}.snapshot.${h}`,
    heartbeat: (h) => `${prefix}.heartbeat.${h}`,
    applied: (r) => `${prefix}.applied.${r}`,
    routes: (r) => `${prefix}.applied.${r}.routes`,
    ipam: (h, op) => `${prefix}.ipam.${h}.${op}`,
    allEvents: `${prefix}.events.*`,
    allSnapshots: `${prefix}.snapshot.*`,
    allHeartbeats: `${prefix}.heartbeat.*`,
    allApplied: `${prefix}.applied.*`,
    allIpam: `${prefix}.ipam.*.*`,
    logs: (svc, h, c) => `${prefix}.logs.${svc}.${h}.${c}`,
    serviceLogs: (svc) => `${prefix}.logs.${svc}.*.*`,
    allLogs: `${prefix}.logs.*.*.*`,
    streamSubjects: [`${prefix}.events.*`, `${prefix}.snapshot.*`],
    hostStats: (h) => `${prefix}.stats.host.${h}`,
    allHostStats: `${prefix}.stats.host.*`,
    rendererStats: (r) => `${prefix}.stats.renderer.${r}`,
    allRendererStats: `${prefix}.stats.renderer.*`,
  }
}

/** The last token of a subject: the host of `driftgate.events.<host>`. */
export function lastToken (subject: string): string {
  const i = subject.lastIndexOf('.')
  return i < 0 ? subject : subject.slice(i + 1)
}

/** Host and op of `<prefix>.ipam.<host>.<op>`; null for any other shape (the host is not checked here). */
export function ipamSubjectParts (subject: string, prefix = DEFAULT_PREFIX): { host: string, op: string } | null {
  const head = `${prefix}.ipam.`
  if (!subject.startsWith(head)) return null
  const rest = subject.slice(head.length).split('.')
  return rest.length === 2 && rest[0] !== '' && rest[1] !== '' ? { host: rest[0], op: rest[1] } : null
}
