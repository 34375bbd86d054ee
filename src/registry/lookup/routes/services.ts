// GET /v1/services and GET /v1/services/:name.
import type { FastifyInstance } from 'fastify'
import { NotFoundError } from '../../../core/index.js'
import type { LookupView } from '../view.js'
import { nameParams, serviceResponse, servicesResponse, summaryOf } from './shapes.js'
import { errorSchema } from '../errors.js'
import { INDEX_HEADER } from './endpoints.js'

export function servicesRoutes (view: LookupView) {
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
      return { ...summaryOf(view, name, entry, rec), spec: rec?.spec ?? null, updatedAt: rec?.updatedAt ?? null }
    })
  }
}
