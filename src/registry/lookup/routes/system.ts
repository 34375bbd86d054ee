// GET /healthz (always open: load balancers and probes carry no token) and
// GET /metrics (the role's prom-client Registry).
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { LookupView } from '../view.js'

export function systemRoutes (view: LookupView, metrics: Registry) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/healthz', {
      config: { public: true },
      schema: {
        response: {
          200: {
            type: 'object',
            properties: { status: { type: 'string' }, services: { type: 'integer' }, hosts: { type: 'integer' } },
          },
        },
      },
    }, async () => ({ status: 'ok', services: view.names().length, hosts: view.tables.hosts.entries.size }))

    app.get('/metrics', async (_request, reply) => {
      const text = await metrics.metrics()
      return reply.type(metrics.contentType).send(text)
    })
  }
}
