// The registry's HTTP API as a fastify instance that is built but not
// listening: read routes here, write routes (placement, IPAM) arrive as
// plug-ins that use `app.requireWrite` as their preHandler.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type preHandlerHookHandler } from 'fastify'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Logger } from '../../core/index.js'
import type { LookupView } from './view.js'
import { createAuth, type Auth, type AuthConfig } from './auth.js'
import { installErrorHandlers } from './errors.js'
import { servicesRoutes } from './routes/services.js'
import { endpointsRoutes } from './routes/endpoints.js'
import { hostsRoutes } from './routes/hosts.js'
import { systemRoutes } from './routes/system.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler that lets a request through only with a valid write token. */
    requireWrite: preHandlerHookHandler
  }
  interface FastifyContextConfig {
    /** No token needed even when reads are protected (health probes). */
    public?: boolean
    /** A write route: its preHandler checks the write token instead of the read hook. */
    write?: boolean
  }
}

export interface ApiOptions {
  view: LookupView
  log: Logger
  metrics: Registry
  auth: AuthConfig | Auth
  /** Extra routes, registered after the read routes; they see `app.requireWrite`. */
  plugins?: FastifyPluginAsync[]
  /** Largest accepted request body (write routes). */
  bodyLimit?: number
}

function isAuth (a: AuthConfig | Auth): a is Auth {
  return typeof (a as Auth).requireWrite === 'function'
}

function instrument (app: FastifyInstance, view: LookupView, metrics: Registry): void {
  // Plain counts on the hot path; prom-client reads them at scrape time.
  const counts = new Map<string, { route: string, status: number, n: number }>()
  new Counter({ // eslint-disable-line no-new
    name: 'driftgate_lookup_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['route', 'status'],
    registers: [metrics],
    collect () {
      this.reset()
      for (const c of counts.values()) this.inc({ route: c.route, status: c.status }, c.n)
    },
  })
  new Gauge({ // eslint-disable-line no-new
    name: 'driftgate_lookup_blocking_queries',
    help: 'Blocking queries parked right now',
    registers: [metrics],
    collect () { this.set(view.waiting()) },
  })
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const key = `${reply.statusCode} ${route}`
    const c = counts.get(key)
    if (c !== undefined) c.n++
    else counts.set(key, { route, status: reply.statusCode, n: 1 })
    done()
  })
}

export async function buildApi (opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log as unknown as FastifyBaseLogger,
    // Per-request log lines would cost more than the lookups themselves; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // A parked blocking query may legitimately hold its connection for MAX_WAIT_MS.
    requestTimeout: 0,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  })
  const auth = isAuth(opts.auth) ? opts.auth : createAuth(opts.auth)
  app.decorate('requireWrite', auth.requireWrite)
  if (auth.readProtected) app.addHook('onRequest', auth.requireRead) // no per-request cost when reads are open
  installErrorHandlers(app)
  instrument(app, opts.view, opts.metrics)
  await app.register(systemRoutes(opts.view, opts.metrics))
  await app.register(servicesRoutes(opts.view))
  await app.register(endpointsRoutes(opts.view))
  await app.register(hostsRoutes(opts.view))
  for (const plugin of opts.plugins ?? []) await app.register(plugin)
  return app
}
