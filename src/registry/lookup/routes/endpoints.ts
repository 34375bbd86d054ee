// GET /v1/services/:name/endpoints, with Consul-style blocking queries:
// `?index=<n>&wait=30s` parks the request on the service's waiter list until
// its index moves past n or the wait (plus up to 1/16 jitter, so that a crowd
// that parked together does not wake together) runs out. Parked queries are
// capped per client and globally (limits.ts): over a cap, 429 at once.
import type { FastifyInstance } from 'fastify'
import { DURATION_PATTERN, NotFoundError, parseDuration } from '../../../core/index.js'
import type { LookupView, ServiceEntry } from '../view.js'
import type { WaiterLimits } from '../limits.js'
import { endpointsResponse, nameParams, publicEndpointOf } from './shapes.js'
import { errorSchema } from '../errors.js'

export const DEFAULT_WAIT_MS = 5 * 60_000
export const MAX_WAIT_MS = 10 * 60_000
export const INDEX_HEADER = 'x-driftgate-index'

const query = {
  type: 'object',
  properties: {
    all: { type: 'boolean', default: false },
    index: { type: 'integer', minimum: 0 },
    wait: { type: 'string', pattern: DURATION_PATTERN },
  },
  additionalProperties: false,
} as const

interface Query { all: boolean, index?: number, wait?: string }

/** The answer body, serialised once per service change and reused until the next. */
export function endpointsBody (view: LookupView, entry: ServiceEntry, all: boolean): Buffer {
  const key = all ? 'http:all' : 'http:healthy'
  let buf = entry.cache.get(key) as Buffer | undefined
  if (buf === undefined) {
    const list = all ? view.all(entry) : view.answer(entry)
    buf = Buffer.from(JSON.stringify({ service: entry.name, index: entry.index, endpoints: list.map(publicEndpointOf) }))
    entry.cache.set(key, buf)
  }
  return buf
}

export function waitMs (wait: string | undefined): number {
  const ms = Math.min(wait === undefined ? DEFAULT_WAIT_MS : parseDuration(wait), MAX_WAIT_MS)
  return ms + Math.floor(Math.random() * ms / 16)
}

export function endpointsRoutes (view: LookupView, limits: WaiterLimits) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get<{ Params: { name: string }, Querystring: Query }>('/v1/services/:name/endpoints', {
      schema: {
        params: nameParams,
        querystring: query,
        response: { 200: endpointsResponse, '4xx': errorSchema },
      },
    }, async (request, reply) => {
      const { name } = request.params
      const { all, index } = request.query
      if (index !== undefined) {
        const release = limits.acquire(request.ip) // 429 over the caps, before anything is parked
        try {
          const parked = view.wait(name, index, waitMs(request.query.wait))
          reply.raw.once('close', parked.cancel)
          await parked.promise
          reply.raw.off('close', parked.cancel)
        } finally { release() }
      }
      const entry = view.get(name)
      if (entry === undefined) {
        reply.header(INDEX_HEADER, view.index(name))
        throw new NotFoundError(`service "${name}"`)
      }
      return reply.header(INDEX_HEADER, entry.index).type('application/json; charset=utf-8').send(endpointsBody(view, entry, all))
    })
  }
}
