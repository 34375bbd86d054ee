// The data that crosses process boundaries (DESIGN section 3). Every one of
// these has a JSON schema in schemas.ts and is validated before use.

/** Wire format version of every message and KV value. Bumped on breaking change. */
export const WIRE_VERSION = 1

export type EndpointState = 'running' | 'draining' | 'paused'
export type Health = 'healthy' | 'unhealthy' | 'starting' | 'none'

/** One container as an agent sees it. */
export interface EndpointInfo {
  service: string
  containerId: string
  name?: string
  ip: string
  mac: string
  port: number
  network: string
  state: EndpointState
  health: Health
  weight: number
  managed?: boolean
  replica?: number
  specHash?: string
  /** Host names from the `driftgate.hosts` label (lower case, validated). */
  hosts?: string[]
  /** Path prefix from the `driftgate.path` label (only with hosts). */
  path?: string
}

/**
 * `driftgate.events.<host>`. `instance` is sortable (see core/instance.ts):
 * ordering of two events of one host is (instance, seq).
 */
export interface EventMessage {
  v: 1
  kind: 'upsert' | 'remove'
  host: string
  instance: string
  seq: number
  /** Docker's own event time, ms since epoch (fractional for ns precision). */
  time: number
  /** When the agent published it, ms since epoch. */
  sentAt: number
  /** For `remove`, only service and containerId are meaningful. */
  endpoint: EndpointInfo | { service: string, containerId: string }
  /** Docker action that caused it (start, die, kill, ...), for logs. */
  cause?: string
}

/** `driftgate.snapshot.<host>`: every labelled running container on the host. */
export interface SnapshotMessage {
  v: 1
  host: string
  instance: string
  seq: number
  time: number
  sentAt: number
  endpoints: EndpointInfo[]
  /** Ids of every container that exists on the host (any state), for IPAM leak checks. */
  containers: string[]
}

export interface Capacity { cpus: number, memoryBytes: number }
export interface Allocated { cpus: number, memoryBytes: number, containers: number }

/** `driftgate.heartbeat.<host>`. */
export interface HeartbeatMessage {
  v: 1
  host: string
  instance: string
  sentAt: number
  address?: string
  capacity: Capacity
  allocated: Allocated
  labels: Record<string, string>
}

/** Value of `driftgate_endpoints` `<service>.<container id>`. */
export interface EndpointRecord extends EndpointInfo {
  // For a tombstone (removed: true) ip, mac, port... may be empty placeholders.
  v: 1
  host: string
  instance: string
  seq: number
  updatedAt: number
  /**
   * A tombstone: the container was removed. Kept (not deleted) so that a late,
   * older upsert cannot bring it back; garbage-collected after a while.
   */
  removed?: boolean
}

export type HostStatus = 'up' | 'suspect' | 'down'

/** Value of `driftgate_hosts` `<host>`. */
export interface HostRecord {
  v: 1
  host: string
  address?: string
  instance: string
  capacity: Capacity
  allocated: Allocated
  labels: Record<string, string>
  lastSeen: number
  status: HostStatus
  since: number
}

/** `driftgate.applied.<renderer>`: what a renderer has live in nginx. */
export interface AppliedMessage {
  v: 1
  renderer: string
  generation: number
  /** KV revisions of the endpoints table that this generation reflects. */
  endpointsRevision: number
  /**
   * Container ids routed by this generation, so drain can check absence;
   * only up to APPLIED_INLINE_MAX of them: beyond, the list is left out and
   * a drain asks the renderer (`<prefix>.applied.<renderer>.routes`).
   */
  containers?: string[]
  /** How many containers this generation routes. */
  count?: number
  appliedAt: number
}

/** Request on `<prefix>.applied.<renderer>.routes`: which of these ids does the renderer route now? */
export interface RoutesQuery { v: 1, ids: string[] }
/** Its answer: the subset of the asked ids routed by `generation`. */
export interface RoutesAnswer { v: 1, renderer: string, generation: number, routed: string[] }
