// Edge routes (issue 16): the `routes` sub-schema of a service spec and the
// host/path rules shared by the API, the agent's labels and the renderer.
// A host or path that fails here never reaches nginx.conf: they are printed
// as `server_name` and `location` arguments.

/** At most this many routes per spec (each is a location; 1,000 services × 32 stays a few MB of config). */
export const MAX_ROUTES = 32
/** At most this many host names in one `driftgate.hosts` label. */
export const MAX_LABEL_HOSTS = 16
/** Longest path prefix. */
export const MAX_ROUTE_PATH = 256

// DNS rules: dot-separated labels of 1-63 letters, digits and inner dashes,
// 253 characters in all, lower case (callers lower-case user input first),
// optionally one leading `*.`. The last label must not be all digits: that
// keeps IP literals (10.0.0.1) out, which must never choose a route.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'
export const ROUTE_HOST_PATTERN = `^(?=.{1,253}$)(?:\\*\\.)?(?:${LABEL}\\.)*(?!\\d+$)${LABEL}$`
const ROUTE_HOST = new RegExp(ROUTE_HOST_PATTERN)

// A plain prefix: starts with `/`, letters, digits and `._-/` only (no
// spaces, quotes, `;{}$`, `%`, newlines: it is a location argument), no `//`
// and no `.`/`..` segment, no trailing `/` (except the root itself).
export const ROUTE_PATH_PATTERN = '^/(?:[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*)?$'
const ROUTE_PATH = new RegExp(ROUTE_PATH_PATTERN)

/** Why a route host name is unusable, or null. Expects lower case (see normaliseHost). */
export function routeHostProblem (value: unknown): string | null {
  if (typeof value !== 'string') return 'not a string'
  if (!ROUTE_HOST.test(value)) return 'not a DNS host name (letters, digits, inner dashes, dot-separated, at most 253 characters, an optional leading "*." wildcard, not an IP address)'
  return null
}

/** Why a route path is unusable, or null. */
export function routePathProblem (value: unknown): string | null {
  if (typeof value !== 'string') return 'not a string'
  if (value.length > MAX_ROUTE_PATH) return `longer than ${MAX_ROUTE_PATH} characters`
  if (!ROUTE_PATH.test(value)) return 'not a plain path prefix (starts with "/", letters, digits, ".", "_", "-" between slashes, no trailing "/")'
  if (value.split('/').some((s) => s === '.' || s === '..')) return 'has a "." or ".." segment'
  return null
}

export const isRouteHost = (v: unknown): v is string => routeHostProblem(v) === null
export const isRoutePath = (v: unknown): v is string => routePathProblem(v) === null

/** Host names are case-insensitive: stored and compared in lower case. */
export const normaliseHost = (host: string): string => host.toLowerCase()

/** The path a route claims when it names none. */
export const ROOT_PATH = '/'

/** JSON schema of one route's host and path (also used for endpoint records' label fields). */
export const routeHostSchema = { type: 'string', maxLength: 253, pattern: ROUTE_HOST_PATTERN } as const
export const routePathSchema = { type: 'string', maxLength: MAX_ROUTE_PATH, pattern: ROUTE_PATH_PATTERN, not: { pattern: '(^|/)\\.\\.?(/|$)' } } as const

export const routesSchema = {
  type: 'array',
  maxItems: MAX_ROUTES,
  items: {
    type: 'object',
    required: ['host'],
    properties: {
      host: routeHostSchema,
      path: routePathSchema,
      stripPrefix: { type: 'boolean' },
      redirectHttps: { type: 'boolean' },
    },
    additionalProperties: false,
  },
} as const

export interface RouteSpec { host: string, path?: string, stripPrefix?: boolean, redirectHttps?: boolean }

/**
 * Lower-cases the host names of a request body's `routes` (before the schema
 * sees it: `Shop.Example.com` is the same name). Anything that is not a list
 * of objects is left for the schema to refuse.
 */
export function normaliseRoutesInput (routes: unknown): unknown {
  if (!Array.isArray(routes)) return routes
  return routes.map((r: unknown) => (r !== null && typeof r === 'object' && typeof (r as RouteSpec).host === 'string')
    ? { ...(r as RouteSpec), host: normaliseHost((r as RouteSpec).host) }
    : r)
}

/** The identity of a claim: two services may not claim the same one. */
export const claimKey = (host: string, path: string | undefined): string => `${host} ${path ?? ROOT_PATH}`

/**
 * The claims of `spec` that another service's spec already holds (the API's
 * check before a PUT/PATCH), and claims repeated inside the spec itself.
 */
export function specRouteProblems (spec: { name: string, routes?: RouteSpec[] }, others: Iterable<{ spec: { name: string, routes?: RouteSpec[] } }>): string[] {
  const mine = new Map<string, number>()
  const problems: string[] = []
  for (const [i, r] of (spec.routes ?? []).entries()) {
    const k = claimKey(r.host, r.path ?? ROOT_PATH)
    if (mine.has(k)) problems.push(`routes/${i}: ${r.host}${r.path ?? ROOT_PATH} is already routes/${mine.get(k) as number} of this spec`)
    else mine.set(k, i)
  }
  for (const rec of others) {
    if (rec?.spec?.name == null || rec.spec.name === spec.name) continue
    for (const r of rec.spec.routes ?? []) {
      const at = mine.get(claimKey(r.host, r.path ?? ROOT_PATH))
      if (at !== undefined) problems.push(`routes/${at}: ${r.host}${r.path ?? ROOT_PATH} is already routed to service "${rec.spec.name}"`)
    }
  }
  return problems
}
