// GET /v1/sites: this site, every other site it mirrors with the state of
// the link (up/down, when last heard, lag), their endpoints and hosts, and
// which services are answered from another site right now (issue 21).
import type { FastifyInstance } from 'fastify'
import type { LookupView } from '../view.js'

const hostCounts = {
  type: 'object',
  properties: { up: { type: 'integer' }, suspect: { type: 'integer' }, down: { type: 'integer' } },
  required: ['up', 'suspect', 'down'],
} as const

export const sitesResponse = {
  type: 'object',
  properties: {
    site: { type: 'string' },
    remote: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          site: { type: 'string' },
          link: { enum: ['up', 'down', 'unknown'] },
          lastHeardMs: { type: ['integer', 'null'] },
          lag: { type: 'integer' },
          stale: { type: 'boolean' },
          endpoints: { type: 'integer' },
          hosts: hostCounts,
          summaryAgeMs: { type: ['integer', 'null'] },
          lost: { type: 'boolean' },
          takenOver: { type: 'array', items: { type: 'string' } },
          error: { type: 'string' },
        },
        required: ['site', 'link', 'lastHeardMs', 'lag', 'stale', 'endpoints', 'hosts', 'summaryAgeMs', 'lost', 'takenOver'],
      },
    },
    failedOver: {
      type: 'array',
      items: { type: 'object', properties: { service: { type: 'string' }, site: { type: 'string' } }, required: ['service', 'site'] },
    },
  },
  required: ['site', 'remote', 'failedOver'],
} as const

export function sitesRoutes (view: LookupView) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/v1/sites', { schema: { response: { 200: sitesResponse } } }, async () => ({
      site: view.sites.local,
      remote: view.sites.remote?.status() ?? [],
      failedOver: view.failedOver(),
    }))
  }
}
