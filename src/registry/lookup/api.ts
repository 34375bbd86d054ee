// The registry's HTTP API as a fastify instance that is built but not
// listening: read routes here, write routes (placement, IPAM) arrive as
// plug-ins that use `app.requireWrite` as their preHandler.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
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
import { createFastPath, ENDPOINTS_ROUTE } from './fast-path.js'

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

interface Counts {
  count: (route: string, status: number) => void
  /** A cell to increment directly, for the fast path. */
  cell: (route: string, status: number) => { n: number }
}

function instrument (app: FastifyInstance, view: LookupView, metrics: Registry, counts: Counts): void {
  app.addHook('onResponse', (request, reply, done) => {
    counts.count(request.routeOptions.url ?? 'unmatched', reply.statusCode)
    done()
  })
  new Gauge({ // eslint-disable-line no-new
    name: 'driftgate_lookup_blocking_queries',
    help: 'Blocking queries parked right now',
    registers: [metrics],
    collect () { this.set(view.waiting()) },
  })
}

// Plain counts on the hot path; prom-client reads them at scrape time.
function requestCounter (metrics: Registry): Counts {
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
  const cell = (route: string, status: number): { n: number } => {
    const key = `${status} ${route}`
    let c = counts.get(key)
    if (c === undefined) { c = { route, status, n: 0 }; counts.set(key, c) }
    return c
  }
  return { cell, count: (route, status) => { cell(route, status).n++ } }
}

export async function buildApi (opts: ApiOptions): Promise<FastifyInstance> {
  const auth = isAuth(opts.auth) ? opts.auth : createAuth(opts.auth)
  const counts = requestCounter(opts.metrics)
  const fast = createFastPath({ view: opts.view, auth, answered: counts.cell(ENDPOINTS_ROUTE, 200) })
  const app = Fastify({
    // The plain endpoints read is answered before fastify's pipeline (see fast-path.ts).
    serverFactory: (handler) => {
      const server = createServer((req: IncomingMessage, res: ServerResponse) => { if (!fast.handle(req, res)) handler(req, res) })
      server.keepAliveTimeout = 72_000 // what fastify sets on servers it creates
      server.requestTimeout = 0
      return server
    },
    loggerInstance: opts.log as unknown as FastifyBaseLogger,
    // Per-request log lines would cost more than the lookups themselves; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // A parked blocking query may legitimately hold its connection for MAX_WAIT_MS.
    requestTimeout: 0,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  })
  app.addHook('preClose', (done) => { fast.disable(); done() })
  app.decorate('requireWrite', auth.requireWrite)
  if (auth.readProtected) app.addHook('onRequest', auth.requireRead) // no per-request cost when reads are open
  installErrorHandlers(app)
  instrument(app, opts.view, opts.metrics, counts)
  await app.register(systemRoutes(opts.view, opts.metrics))
  await app.register(servicesRoutes(opts.view))
  await app.register(endpointsRoutes(opts.view))
  await app.register(hostsRoutes(opts.view))
  for (const plugin of opts.plugins ?? []) await app.register(plugin)
  return app
}
