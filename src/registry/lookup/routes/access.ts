// GET /v1/auth: what the caller's token may do, so a client (the console)
// can grey out writes for a read token instead of letting them fail. Public:
// it tells no more than any route's 401 would (and compares in constant time).
import type { FastifyInstance } from 'fastify'
import type { Auth } from '../auth.js'

const response = {
  type: 'object',
  properties: {
    token: { enum: ['none', 'read', 'write', 'wrong'] },
    readsNeedToken: { type: 'boolean' },
    writesEnabled: { type: 'boolean' },
  },
} as const

export function accessRoutes (auth: Pick<Auth, 'access' | 'readProtected' | 'writeEnabled'>) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/v1/auth', { config: { public: true }, schema: { response: { 200: response } } }, async (request) => ({
      token: auth.access(request.headers.authorization),
      readsNeedToken: auth.readProtected,
      writesEnabled: auth.writeEnabled,
    }))
  }
}
