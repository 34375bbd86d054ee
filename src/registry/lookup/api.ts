// The registry's HTTP API as a fastify instance that is built but not
// listening: read routes here, write routes (placement, IPAM) arrive as
// plug-ins. Every write route (marked `config.write`, or any method but
// GET/HEAD) gets the write-token check as its first onRequest hook, so a
// request without the token is refused before its body is read or parsed
// (issue 15 hole 5).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type onRequestHookHandler, type RouteOptions } from 'fastify'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Logger } from '../../core/index.js'
import type { LookupView } from './view.js'
import { createAuth, type Auth, type AuthConfig } from './auth.js'
import { errorBody, installErrorHandlers } from './errors.js'
import { servicesRoutes } from './routes/services.js'
import { endpointsRoutes } from './routes/endpoints.js'
import { hostsRoutes } from './routes/hosts.js'
import { systemRoutes } from './routes/system.js'
import { accessRoutes } from './routes/access.js'
import { createFastPath, ENDPOINTS_ROUTE } from './fast-path.js'
import { MAX_WAIT_MS } from './routes/endpoints.js'
import { DEFAULT_MAX_BLOCKING, DEFAULT_MAX_BLOCKING_PER_CLIENT, WaiterLimits } from './limits.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook that lets a request through only with a valid write token (before its body is read). */
    requireWrite: onRequestHookHandler
    /** True when an Authorization header carries a write token (reads that show more to writers, e.g. env values). */
    allowsWrite: (authorization: string | undefined) => boolean
  }
  interface FastifyContextConfig {
    /** No token needed even when reads are protected (health probes). */
    public?: boolean
    /** A write route: its onRequest hook checks the write token instead of the read hook. */
    write?: boolean
  }
}

export interface ApiOptions {
  view: LookupView
  log: Logger
  metrics: Registry
  auth: AuthConfig | Auth
  /** Extra routes, registered after the read routes; write routes get the token check (see protectWrites). */
  plugins?: FastifyPluginAsync[]
  /** Largest accepted request body (write routes). */
  bodyLimit?: number
  /** Time to receive a whole request, headers and body (slow clients get 408). Default 30 s. */
  requestTimeoutMs?: number
  /** Parked blocking queries: caps per client address and overall (429 beyond). */
  maxBlockingQueries?: number
  maxBlockingQueriesPerClient?: number
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
  new Gauge({  
    name: 'driftgate_lookup_blocking_queries',
    help: 'Blocking queries parked right now',
    registers: [metrics],
    collect () { this.set(view.waiting()) },
  })
}

// Plain counts on the hot path; prom-client reads them at scrape time.
function requestCounter (metrics: Registry): Counts {
  const counts = new Map<string, { route: string, status: number, n: number }>()
  new Counter({  
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

const READ_METHODS = new Set(['GET', 'HEAD'])

// Every route that is not a plain read is a write: it gets the token check as
// its first onRequest hook (fail closed: a new POST route forgotten by its
// author is still protected). Routes that already list it keep one copy.
function protectWrites (app: FastifyInstance, check: onRequestHookHandler): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const config = (route.config ?? {}) as { write?: boolean, public?: boolean }
    if (config.write !== true && methods.every((m) => READ_METHODS.has(m))) return
    route.config = { ...config, write: true }
    const hooks = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
    route.onRequest = [check, ...hooks.filter((h) => h !== check)]
  })
}

// Node's own limits on slow clients: the whole request (headers and body)
// must arrive within requestTimeoutMs. It stops counting once the request is
// in, so a parked blocking query (no body, answered minutes later) is not
// cut; the idle timeout only has to outlast the longest park.
const IDLE_TIMEOUT_MS = Math.ceil(MAX_WAIT_MS * 17 / 16) + 60_000

export async function buildApi (opts: ApiOptions): Promise<FastifyInstance> {
  const auth = isAuth(opts.auth) ? opts.auth : createAuth(opts.auth)
  const counts = requestCounter(opts.metrics)
  const fast = createFastPath({ view: opts.view, auth, answered: counts.cell(ENDPOINTS_ROUTE, 200) })
  const limits = new WaiterLimits({
    global: opts.maxBlockingQueries ?? DEFAULT_MAX_BLOCKING,
    perClient: opts.maxBlockingQueriesPerClient ?? DEFAULT_MAX_BLOCKING_PER_CLIENT,
    metrics: opts.metrics,
  })
  const requestTimeout = opts.requestTimeoutMs ?? 30_000
  const app = Fastify({
    // The plain endpoints read is answered before fastify's pipeline (see fast-path.ts).
    // fastify applies no timeouts to a server from serverFactory: they are set here.
    serverFactory: (handler) => {
      const server = createServer({
        requestTimeout,
        headersTimeout: Math.min(requestTimeout, 60_000),
        // How often Node looks for requests past those limits (its default, 30 s, is coarser than the limit).
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(requestTimeout / 4))),
      }, (req: IncomingMessage, res: ServerResponse) => { if (!fast.handle(req, res)) handler(req, res) })
      server.keepAliveTimeout = 72_000 // what fastify sets on servers it creates
      server.setTimeout(IDLE_TIMEOUT_MS)
      return server
    },
    loggerInstance: opts.log as unknown as FastifyBaseLogger,
    // avvio's default (10 s) exited registries started on a saturated machine
    // (bench/scale at full size: 12 s event-loop lag) before their routes were in.
    pluginTimeout: 120_000,
    // Per-request log lines would cost more than the lookups themselves; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors the router raises before any route (a path like /v1/%zz): the same JSON shape as every other error.
    frameworkErrors: (err, _request, reply) => {
      void (reply as unknown as { code: (n: number) => { send: (b: unknown) => void } }).code(400).send(errorBody('DG_BAD_REQUEST', err.message))
    },
  })
  app.addHook('preClose', (done) => { fast.disable(); done() })
  app.decorate('requireWrite', auth.requireWrite)
  app.decorate('allowsWrite', auth.allowsWrite)
  protectWrites(app, auth.requireWrite)
  if (auth.readProtected) app.addHook('onRequest', auth.requireRead) // no per-request cost when reads are open
  installErrorHandlers(app)
  instrument(app, opts.view, opts.metrics, counts)
  await app.register(systemRoutes(opts.view, opts.metrics))
  await app.register(servicesRoutes(opts.view, auth))
  await app.register(endpointsRoutes(opts.view, limits))
  await app.register(hostsRoutes(opts.view))
  await app.register(accessRoutes(auth))
  for (const plugin of opts.plugins ?? []) await app.register(plugin)
  return app
}
