// GET /v1/services and GET /v1/services/:name. A spec's `env` values are
// secrets (passwords in JAVA_OPTS, API keys): only a caller with the write
// token sees them; everyone else gets the keys with "<hidden>" values.
import type { FastifyInstance } from 'fastify'
import { HIDDEN, NotFoundError, redactSpec } from '../../../core/index.js'
import type { LookupView } from '../view.js'
import type { Auth } from '../auth.js'
import { nameParams, serviceResponse, servicesResponse, summaryOf } from './shapes.js'
import { errorSchema } from '../errors.js'
import { INDEX_HEADER } from './endpoints.js'

// The one redaction rule lives in core (history answers use it too).
export { HIDDEN, redactSpec }

export function servicesRoutes (view: LookupView, auth: Pick<Auth, 'allowsWrite'>) {
  return async function (app: FastifyInstance): Promise<void> {
    let cached: { generation: number, body: Buffer } | undefined

    app.get('/v1/services', {
      schema: { response: { 200: servicesResponse } },
    }, async (_request, reply) => {
      if (cached?.generation !== view.generation) {
        const services = view.names().map((n) => summaryOf(view, n, view.get(n), view.spec(n)))
        cached = { generation: view.generation, body: Buffer.from(JSON.stringify({ services })) }
      }
      return reply.type('application/json; charset=utf-8').send(cached.body)
    })

    app.get<{ Params: { name: string } }>('/v1/services/:name', {
      schema: { params: nameParams, response: { 200: serviceResponse, '4xx': errorSchema } },
    }, async (request, reply) => {
      const { name } = request.params
      const entry = view.get(name)
      if (entry === undefined) throw new NotFoundError(`service "${name}"`)
      const rec = view.spec(name)
      void reply.header(INDEX_HEADER, entry.index)
      const spec = rec === undefined ? null : auth.allowsWrite(request.headers.authorization) ? rec.spec : redactSpec(rec.spec)
      return { ...summaryOf(view, name, entry, rec), spec, updatedAt: rec?.updatedAt ?? null }
    })
  }
}
