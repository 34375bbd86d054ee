// Spec history, rollback and `ps`, as a fastify plugin for the registry API
// (mounted next to serviceRoutes in src/registry/components.ts):
//   GET  /v1/services/:name/history            versions, newest first
//   GET  /v1/services/:name/history/:version   one version with its spec
//   POST /v1/services/:name/rollback {to?}     the old spec as a new version (write token)
//   GET  /v1/services/:name/ps                 each replica: host, container, IP, state, health, since, spec version
// env values are shown only to a caller that sent the write token.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { KV } from 'nats'
import {
  DNS_LABEL_PATTERN, NotFoundError, UnauthorizedError, redactSpec, ValidationError, checkAssignmentRecord, checkEndpointRecord, specHash,
  type AssignmentRecord, type EndpointRecord, type Logger,
} from '../core/index.js'
import { decodeJson } from '../bus/index.js'
import { listHistory, readHistory, type HistoryEntry, type WriteMeta } from './history.js'
import { readSpec, writeSpec } from './spec-store.js'
import { withAutoscaledReplicas } from './autoscale/manual.js'

export interface HistoryRoutesOptions {
  kv: { services: KV, history: KV, endpoints: KV, assignments: KV }
  log: Logger
  now?: () => number
}

const params = {
  type: 'object',
  properties: { name: { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 }, version: { type: 'integer', minimum: 1 } },
  required: ['name'],
} as const

/** "cli token:1a2b3c4d": the client's own word for itself and the token's hash prefix (never the token). */
export function whoOf (request: FastifyRequest): string {
  const h = request.headers['x-driftgate-client']
  const client = typeof h === 'string' && /^[a-z][a-z0-9-]{0,15}$/.test(h) ? h : 'api'
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')
  return m === null ? client : `${client} token:${createHash('sha256').update(m[1]).digest('hex').slice(0, 8)}`
}

async function readAll<T> (kv: KV, filter: string, check: { problems: (v: unknown) => unknown }): Promise<T[]> {
  const keys: string[] = []
  for await (const k of await kv.keys(filter)) keys.push(k)
  const out = await Promise.all(keys.map(async (k) => {
    const e = await kv.get(k)
    if (e == null || e.operation !== 'PUT') return null
    const d = decodeJson(e.value)
    return d.ok && check.problems(d.value) === null ? d.value as T : null
  }))
  return out.filter((v): v is Awaited<T> => v !== null) as T[]
}

export interface PsRow {
  replica: number | null, host: string, container: string, name: string | null, ip: string
  state: string, health: string, since: number, specVersion: number | null, specHash: string | null
}

/** Pure: one row per live endpoint, its spec version found through its hash. */
export function psRows (endpoints: EndpointRecord[], assignments: AssignmentRecord[], history: HistoryEntry[]): PsRow[] {
  const versionOf = new Map<string, number>()
  for (const h of [...history].sort((a, b) => a.version - b.version)) versionOf.set(h.specHash, h.version)
  return endpoints.filter((e) => e.removed !== true).map((e) => {
    const a = assignments.find((x) => x.host === e.host && x.replica === e.replica && x.specHash === e.specHash)
    return {
      replica: e.replica ?? null, host: e.host, container: e.containerId.slice(0, 12), name: e.name ?? null, ip: e.ip,
      state: e.state, health: e.health, since: a?.since ?? e.updatedAt,
      specVersion: e.specHash !== undefined ? (versionOf.get(e.specHash) ?? a?.specVersion ?? null) : null,
      specHash: e.specHash ?? null,
    }
  }).sort((a, b) => (a.replica ?? 1e9) - (b.replica ?? 1e9) || a.host.localeCompare(b.host))
}

const summary = (e: HistoryEntry) => ({
  version: e.version, at: e.at, by: e.by, reason: e.reason, image: e.spec.image, replicas: e.spec.replicas, specHash: e.specHash,
})

export function historyRoutes (opts: HistoryRoutesOptions): FastifyPluginAsync {
  return async function (app: FastifyInstance): Promise<void> {
    const { kv } = opts
    const now = opts.now ?? Date.now
    const requireWrite: onRequestHookHandler = app.hasDecorator('requireWrite')
      ? app.requireWrite
      : (_req, _reply, done) => { done(new UnauthorizedError('writes are disabled: no token check is configured')) }
    // Without the registry's auth (tests mounting the routes alone) nobody is a writer.
    const isWriter = (request: FastifyRequest): boolean => app.hasDecorator('allowsWrite') && app.allowsWrite(request.headers.authorization)
    const current = async (name: string) => {
      const rec = await readSpec(kv.services, name)
      if (rec === null) throw new NotFoundError(`service "${name}"`)
      return rec
    }

    app.get<{ Params: { name: string } }>('/v1/services/:name/history', { schema: { params } }, async (request) => {
      const rec = await current(request.params.name)
      const list = await listHistory(kv.history, rec.spec.name, rec.version)
      return { service: rec.spec.name, current: rec.version, versions: list.map(summary) }
    })

    app.get<{ Params: { name: string, version: number } }>('/v1/services/:name/history/:version', { schema: { params } }, async (request) => {
      const { name, version } = request.params
      const rec = await current(name)
      const e = version <= rec.version ? await readHistory(kv.history, name, version) : null
      if (e === null) throw new NotFoundError(`version ${version} of service "${name}" (see GET /v1/services/${name}/history)`)
      const writer = isWriter(request)
      return { ...summary(e), service: name, current: rec.version, spec: writer ? e.spec : redactSpec(e.spec) }
    })

    app.post<{ Params: { name: string }, Body: { to?: unknown } | undefined }>('/v1/services/:name/rollback',
      { onRequest: requireWrite, config: { write: true }, schema: { params } }, async (request) => {
        const { name } = request.params
        const rec = await current(name)
        const raw = request.body?.to
        if (raw !== undefined && (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1)) {
          throw new ValidationError('rollback', [{ field: '/to', message: 'must be a version number (an integer >= 1)' }])
        }
        const to = raw ?? rec.version - 1
        if (to < 1 || to >= rec.version) {
          throw new ValidationError('rollback', [{ field: '/to', message: `must be an earlier version than the current ${rec.version}` }])
        }
        const old = await readHistory(kv.history, name, to)
        if (old === null) throw new NotFoundError(`version ${to} of service "${name}" (it is no longer kept)`)
        const meta: WriteMeta = { by: whoOf(request), reason: `rollback to ${to}` }
        // An autoscaled service keeps the count the autoscaler reached, as for an apply.
        const result = await writeSpec(kv.services, name, (cur) => withAutoscaledReplicas(old.spec, cur), now, { kv: kv.history, meta })
        request.log.info({ service: name, to, version: result.version, changed: result.changed }, 'service rolled back')
        return { ...result, from: rec.version, to }
      })

    app.get<{ Params: { name: string } }>('/v1/services/:name/ps', { schema: { params } }, async (request) => {
      const rec = await current(request.params.name)
      const name = rec.spec.name
      const [endpoints, assignments, history] = await Promise.all([
        readAll<EndpointRecord>(kv.endpoints, `${name}.*`, checkEndpointRecord),
        readAll<AssignmentRecord>(kv.assignments, `*.${name}.*`, checkAssignmentRecord),
        listHistory(kv.history, name, rec.version),
      ])
      return { service: name, version: rec.version, specHash: specHash(rec.spec),
        desired: rec.spec.replicas, replicas: psRows(endpoints, assignments, history) }
    })
  }
}
