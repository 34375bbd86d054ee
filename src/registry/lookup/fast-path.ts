// The plain read of a service's endpoints, answered in front of fastify.
//
// `GET /v1/services/<name>/endpoints` (optionally `?all=true|false`) is what
// clients poll; its body is already serialised per service change, so the
// work left per request was fastify's pipeline (router, Request/Reply
// objects, hooks, validation, a child logger): about half of the CPU per
// request, measured with bench/lookup-http. This handler answers exactly that
// request with the same headers and body and the same read-token check;
// anything else (another route or query, a blocking query, HEAD, a name
// fastify would reject, an unknown service) is left to fastify, which stays
// the one place where requests are validated and errors are shaped.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { DNS_LABEL_PATTERN } from '../../core/index.js'
import type { LookupView, ServiceEntry } from './view.js'
import type { Auth } from './auth.js'
import { endpointsBody, INDEX_HEADER } from './routes/endpoints.js'

export const ENDPOINTS_ROUTE = '/v1/services/:name/endpoints'

const PREFIX = '/v1/services/'
const SUFFIX = '/endpoints'
const NAME = new RegExp(DNS_LABEL_PATTERN)
const CONTENT_TYPE = 'application/json; charset=utf-8'
/** Parsed URLs kept; a client cycling through more only costs re-parsing. */
const URL_CACHE_SIZE = 1024

export interface PlainRead { name: string, all: boolean }

export interface FastPathOptions {
  view: LookupView
  /** The read check; request headers are only looked at when reads are protected (Node builds them lazily). */
  auth: Pick<Auth, 'allowsRead' | 'readProtected'>
  /** The count of answered 200s for ENDPOINTS_ROUTE (the counter fastify's hook feeds too). */
  answered: { n: number }
}

/** Splits `/v1/services/<name>/endpoints[?all=…]` into name and `all`; undefined for anything else. */
export function plainEndpointsRead (url: string): PlainRead | undefined {
  if (!url.startsWith(PREFIX)) return undefined
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  const query = q === -1 ? '' : url.slice(q + 1)
  if (!path.endsWith(SUFFIX)) return undefined
  let all: boolean
  if (query === '' || query === 'all=false') all = false
  else if (query === 'all=true') all = true
  else return undefined
  const name = path.slice(PREFIX.length, path.length - SUFFIX.length)
  if (name.length > 63 || !NAME.test(name)) return undefined
  return { name, all }
}

// Headers are built once per answer body, like the body itself.
function headersFor (view: LookupView, entry: ServiceEntry, all: boolean): { body: Buffer, headers: Record<string, string | number> } {
  const key = all ? 'fast:all' : 'fast:healthy'
  let a = entry.cache.get(key) as { body: Buffer, headers: Record<string, string | number> } | undefined
  if (a === undefined) {
    const body = endpointsBody(view, entry, all)
    a = { body, headers: { 'content-type': CONTENT_TYPE, [INDEX_HEADER]: String(entry.index), 'content-length': body.length } }
    entry.cache.set(key, a)
  }
  return a
}

export interface FastPath {
  /** True when it answered; false to hand the request to fastify. */
  handle: (req: IncomingMessage, res: ServerResponse) => boolean
  /** From now on every request goes through fastify (its 503-on-close and connection handling). */
  disable: () => void
}

export function createFastPath (opts: FastPathOptions): FastPath {
  let enabled = true
  const parsed = new Map<string, PlainRead | null>()
  const parse = (url: string): PlainRead | null => {
    let read = parsed.get(url)
    if (read === undefined) {
      if (parsed.size >= URL_CACHE_SIZE) parsed.clear()
      read = plainEndpointsRead(url) ?? null
      parsed.set(url, read)
    }
    return read
  }
  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!enabled || req.method !== 'GET' || req.url === undefined) return false
    const read = parse(req.url)
    if (read === null) return false
    if (opts.auth.readProtected && !opts.auth.allowsRead(req.headers.authorization)) return false
    const entry = opts.view.get(read.name)
    if (entry === undefined) return false
    const a = headersFor(opts.view, entry, read.all)
    res.writeHead(200, a.headers)
    res.end(a.body)
    opts.answered.n++
    return true
  }
  return { handle, disable: () => { enabled = false } }
}
