// GET /v1/hosts: every host the registry tracks, with its liveness status.
import type { FastifyInstance } from 'fastify'
import type { LookupView } from '../view.js'
import { hostsResponse } from './shapes.js'

export function hostsRoutes (view: LookupView) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/v1/hosts', { schema: { response: { 200: hostsResponse } } }, async () => ({ hosts: view.hosts() }))
  }
}
