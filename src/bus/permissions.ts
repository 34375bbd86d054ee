// What each role may publish and subscribe to on NATS: the README's "NATS
// credentials per role" table as code, in the form of a nats-server
// `permissions` block (a list is an allow list). `driftgate up` and
// `driftgate demo` give every role a user with exactly these; a unit test
// checks that the README table says the same.
import { Buckets, LOG_STREAM, STREAM } from './buckets.js'
import { subjects } from './subjects.js'
import { EXPORT_ENDPOINTS, remoteBucket } from './sites.js'
import { allActivity } from './activity.js'

export type NatsRole = 'agent' | 'registry' | 'renderer'

export interface RolePermissions { publish: string[], subscribe: string[] }

export interface RoleIdentity {
  /** The agent's host id (agent only). */
  host?: string
  /** The renderer's id (renderer only). */
  renderer?: string
  /** Subject prefix (default driftgate); bucket and stream names do not depend on it. */
  prefix?: string
  /** Renderer only: other sites its specs fail over to (it reads their local mirrors, issue 21). */
  sites?: string[]
}

const kv = (bucket: string): string => `KV_${bucket}`

/** Read-only use of the stream and buckets: look them up, watch some, never write. */
function kvReader (watched: string[]): string[] {
  return [
    '$JS.API.INFO',
    '$JS.API.STREAM.INFO.>',
    // Each bucket named: nats-server wildcards are whole tokens, so a
    // pattern like `KV_driftgate_*` would grant nothing.
    ...watched.map((b) => `$JS.API.CONSUMER.CREATE.${kv(b)}.>`),
    ...watched.map((b) => `$JS.API.CONSUMER.DELETE.${kv(b)}.>`),
  ]
}

function need (value: string | undefined, what: string, role: NatsRole): string {
  if (value === undefined || !/^[a-zA-Z0-9_-]+$/.test(value)) throw new Error(`rolePermissions(${role}): ${what} must be one subject token, got ${String(value)}`)
  return value
}

export function rolePermissions (role: NatsRole, id: RoleIdentity = {}): RolePermissions {
  const s = subjects(id.prefix)
  if (role === 'agent') {
    const host = need(id.host, 'host', role)
    return {
      publish: [
        s.events(host), s.snapshot(host), s.heartbeat(host), `${s.prefix}.ipam.${host}.>`,
        // Logs only under its own host, and its cursor (last message per subject) only for its own containers.
        s.logs('*', host, '*'), `$JS.API.DIRECT.GET.${LOG_STREAM}.${s.logs('*', host, '*')}`,
        ...kvReader([Buckets.assignments, Buckets.services]),
        ...[Buckets.assignments, Buckets.services].map((b) => `$JS.API.DIRECT.GET.${kv(b)}.>`), '$JS.FC.>',
        s.hostStats(host),
        // A drain asks renderers whose announcement leaves the id list out (issue 20).
        s.routes('*'),
      ],
      subscribe: ['_INBOX.>', s.allApplied],
    }
  }
  if (role === 'renderer') {
    const renderer = need(id.renderer, 'renderer', role)
    return {
      publish: [s.applied(renderer), s.rendererStats(renderer), ...kvReader([Buckets.endpoints, Buckets.services,
        ...(id.sites ?? []).map((site) => remoteBucket(need(site, 'site', role), 'endpoints'))]), '$JS.FC.>', '_INBOX.>'],
      // Routes queries from draining agents; '_INBOX.>' above carries the answers.
      subscribe: ['_INBOX.>', s.routes(renderer)],
    }
  }
  return {
    publish: [
      '$JS.API.>',
      ...[Buckets.endpoints, Buckets.services, Buckets.hosts, Buckets.ipam, Buckets.assignments, Buckets.leases, Buckets.history, Buckets.site, EXPORT_ENDPOINTS].map((b) => `$KV.${b}.>`),
      `$JS.ACK.${STREAM}.>`, '$JS.FC.>', '_INBOX.>', allActivity(id.prefix),
    ],
    subscribe: [s.allHeartbeats, s.allIpam, s.allSnapshots, '_INBOX.>', s.allApplied, allActivity(id.prefix), s.allRendererStats,
      s.allHostStats],
  }
}
