// Write routes for service specs and the placement status, as a fastify
// plugin for the registry's API (src/registry/lookup/api.ts mounts it through
// `plugins`; GET /v1/services[/:name] live in lookup):
//   PUT    /v1/services/:name   JSON or YAML spec          (write token)
//   PATCH  /v1/services/:name   JSON merge patch, e.g. {"replicas":5}
//   DELETE /v1/services/:name
//   GET    /v1/placement        desired/assigned per service, host use, unschedulable
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { KV } from 'nats'
import {
  DNS_LABEL_PATTERN, NotFoundError, ValidationError, readYaml, checkAssignmentRecord, checkHostRecord, checkServiceRecord,
  RouteConflictError, UnauthorizedError, checkEndpointRecord, specRouteProblems, type AssignmentRecord, type EndpointRecord, type ServiceSpec, type HostRecord, type Logger, type ServiceRecord,
} from '../core/index.js'
import { ReplicaHealth } from './replica-health.js'
import { replacementDecisions } from './replacer.js'
import { KvTable } from '../bus/index.js'
import { patchSpec, specFromBody } from './spec-input.js'
import { deleteSpec, writeSpec } from './spec-store.js'
import { readLease } from './leader.js'
import { whoOf } from './history-routes.js'
import { placementStatus } from './status.js'
import { refuseManualReplicas, withAutoscaledReplicas } from './autoscale/manual.js'
import { autoscaleViews } from './autoscale/status.js'
import type { PlacementTables } from './loop.js'

export interface ServiceRoutesOptions {
  kv: { services: KV, leases: KV, hosts?: KV, assignments?: KV, history?: KV, endpoints?: KV }
  /** Mirrors to answer GET /v1/placement from (e.g. startPlacement's); else the plugin makes its own from kv. */
  tables?: PlacementTables
  /** Without `tables`: started endpoints/hosts mirrors to read (the registry's) instead of watching those buckets again; not closed here. */
  mirrors?: { endpoints: KvTable<EndpointRecord>, hosts: KvTable<HostRecord> }
  log: Logger
  now?: () => number
}

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 } },
  required: ['name'],
} as const

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']

function installParsers (app: FastifyInstance): void {
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, readYaml(body as string, 'body'))
    } catch (err) {
      done(err instanceof ValidationError ? err : new ValidationError('YAML body', [{ field: '/', message: (err as Error).message.split('\n')[0] }]), undefined)
    }
  })
  // `kubectl`-style merge patches arrive with their own media type.
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))
}

/** The mirrors ownTables started (closed with the plugin). */
const ownMirrors = new WeakMap<PlacementTables, Array<KvTable<unknown>>>()

async function ownTables (opts: ServiceRoutesOptions): Promise<PlacementTables> {
  const { hosts, assignments } = opts.kv
  if (hosts === undefined || assignments === undefined) throw new TypeError('serviceRoutes needs tables or kv.hosts and kv.assignments')
  const valid = <T>(check: { problems: (v: unknown) => unknown }) => (v: unknown): T | null => (check.problems(v) === null ? v as T : null)
  const own: Array<KvTable<unknown>> = []
  const mine = <T>(table: KvTable<T>): KvTable<T> => { own.push(table as KvTable<unknown>); return table }
  const tables: PlacementTables = {
    services: mine(new KvTable<ServiceRecord>({ kv: opts.kv.services, log: opts.log, decode: valid(checkServiceRecord) })),
    hosts: opts.mirrors?.hosts ?? mine(new KvTable<HostRecord>({ kv: hosts, log: opts.log, decode: valid(checkHostRecord) })),
    assignments: mine(new KvTable<AssignmentRecord>({ kv: assignments, log: opts.log, decode: valid(checkAssignmentRecord) })),
  }
  // Replica health for the replacement verdicts in GET /v1/placement (issue 19).
  const endpoints = opts.mirrors?.endpoints ?? (opts.kv.endpoints !== undefined
    ? mine(new KvTable<EndpointRecord>({ kv: opts.kv.endpoints, log: opts.log, decode: valid(checkEndpointRecord) }))
    : undefined)
  ownMirrors.set(tables, own)
  await Promise.all(own.map(async (t) => { await t.start() }))
  if (endpoints !== undefined) {
    tables.replicaHealth = new ReplicaHealth(endpoints)
    tables.replicaHealth.attach()
  }
  return tables
}

/** "scale to 5" for a patch of replicas alone, else "patch". */
function patchReason (body: unknown): string {
  const b = body as Record<string, unknown> | null
  return b !== null && typeof b === 'object' && Object.keys(b).length === 1 && typeof b.replicas === 'number' ? `scale to ${b.replicas}` : 'patch'
}

export function serviceRoutes (opts: ServiceRoutesOptions): FastifyPluginAsync {
  return async function (app: FastifyInstance): Promise<void> {
    installParsers(app)
    const kv = opts.kv.services
    const now = opts.now ?? Date.now
    const tables = opts.tables ?? await ownTables(opts)
    if (opts.tables === undefined) {
      app.addHook('onClose', async () => {
        tables.replicaHealth?.detach()
        await Promise.all((ownMirrors.get(tables) ?? []).map(async (t) => { await t.close() }))
      })
    }
    // Mounted outside the registry API (tests), there may be no token check: refuse writes then.
    const requireWrite: onRequestHookHandler = app.hasDecorator('requireWrite')
      ? app.requireWrite
      : (_req, _reply, done) => { done(new UnauthorizedError('writes are disabled: no token check is configured')) }
    // Each write is recorded as a version (who, why) when the history bucket is given.
    const history = (request: FastifyRequest, reason: string) =>
      (opts.kv.history !== undefined ? { kv: opts.kv.history, meta: { by: whoOf(request), reason } } : undefined)
    // A host+path another service's spec holds is refused, naming that service
    // (issue 16). Checked against this registry's mirror: two PUTs racing on
    // two registries can both pass, and the renderer's buildRoutes then
    // decides the same way everywhere (lexically smallest service wins).
    const routesFree = (spec: ServiceSpec): ServiceSpec => {
      const problems = specRouteProblems(spec, tables.services.entries.values())
      if (problems.length > 0) throw new RouteConflictError(spec.name, problems)
      return spec
    }
    // onRequest: the token is checked before the body is read or parsed (a YAML bomb without a token costs nothing).
    const write = { onRequest: requireWrite, config: { write: true }, schema: { params: nameParams } }

    app.put<{ Params: { name: string }, Body: unknown }>('/v1/services/:name', write, async (request, reply) => {
      const { name } = request.params
      const result = await writeSpec(kv, name, (cur) => routesFree(withAutoscaledReplicas(specFromBody(name, request.body), cur)), now, history(request, 'apply'))
      request.log.info({ service: name, version: result.version, changed: result.changed }, 'service spec applied')
      return await reply.code(result.created ? 201 : 200).send(result)
    })

    app.patch<{ Params: { name: string }, Body: unknown }>('/v1/services/:name', write, async (request) => {
      const { name } = request.params
      const result = await writeSpec(kv, name, (cur) => {
        if (cur === null) throw new NotFoundError(`service "${name}" (apply it first with PUT or driftgate apply)`)
        const next = patchSpec(cur, request.body)
        refuseManualReplicas(cur, request.body, next)
        return routesFree(withAutoscaledReplicas(next, cur))
      }, now, history(request, patchReason(request.body)))
      request.log.info({ service: name, version: result.version, replicas: result.replicas }, 'service spec patched')
      return result
    })

    app.delete<{ Params: { name: string } }>('/v1/services/:name', write, async (request) => {
      const result = await deleteSpec(kv, request.params.name)
      request.log.info({ service: result.service }, 'service deleted')
      return { ...result, deleted: true }
    })

    app.get('/v1/placement', async () => {
      const lease = await readLease(opts.kv.leases)
      const status = placementStatus({
        services: tables.services.entries.values(),
        hosts: tables.hosts.entries.values(),
        assignments: tables.assignments.entries.values(),
        lease,
        replacements: tables.replicaHealth !== undefined
          ? replacementDecisions(tables.assignments.entries.values(), tables.services.entries.values(), tables.replicaHealth, now())
          : [],
      })
      return { ...status, autoscale: await autoscaleViews(opts.kv.leases, tables.services.entries.values()) }
    })
  }
}
