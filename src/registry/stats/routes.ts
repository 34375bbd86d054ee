// GET /v1/stats/services and GET /v1/stats/services/:name: requests and
// upstream errors per second per service (ServiceLoad). `index` in an answer
// moves with every renderer report; `?index=<n>&wait=<duration>` parks until
// it moves past n (at most 60 s): a page shows each new report as it lands,
// driven by the reports themselves rather than a client timer.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { DNS_LABEL_PATTERN, DURATION_PATTERN, parseDuration } from '../../core/index.js'
import type { ServiceLoad } from './index.js'

const MAX_WAIT_MS = 60_000

const blocking = {
  index: { type: 'integer', minimum: 0 },
  wait: { type: 'string', pattern: DURATION_PATTERN, maxLength: 32 },
} as const
const query = { type: 'object', properties: blocking, additionalProperties: false } as const
const params = {
  type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 } },
} as const

interface Blocking { index?: number, wait?: string }

export function statsRoutes (opts: { load: ServiceLoad }): FastifyPluginAsync {
  const { load } = opts
  return async function (app: FastifyInstance): Promise<void> {
    // Parks only while the caller has already seen the current index.
    const settle = async (q: Blocking, raw: NodeJS.EventEmitter): Promise<void> => {
      if (q.index === undefined || q.wait === undefined || q.index !== load.version) return
      const closed = new AbortController()
      raw.once('close', () => { closed.abort() })
      await load.changed(q.index, Math.min(parseDuration(q.wait), MAX_WAIT_MS), closed.signal)
    }

    app.get<{ Querystring: Blocking }>('/v1/stats/services', { schema: { querystring: query } }, async (request) => {
      await settle(request.query, request.raw)
      return { index: load.version, renderers: load.renderers(), services: load.all() }
    })

    app.get<{ Params: { name: string }, Querystring: Blocking }>('/v1/stats/services/:name', { schema: { params, querystring: query } }, async (request) => {
      await settle(request.query, request.raw)
      return { service: request.params.name, index: load.version, renderers: load.renderers(), load: load.rate(request.params.name) ?? null }
    })
  }
}
