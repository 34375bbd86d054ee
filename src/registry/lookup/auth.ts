// Bearer tokens. Writes always need a write token; reads need a read (or
// write) token only when a read token is configured. Tokens are compared as
// SHA-256 digests with timingSafeEqual over every configured token, so
// neither the length nor the matching prefix of a guess leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { ConfigError, UnauthorizedError } from '../../core/index.js'

export interface AuthConfig {
  /** Tokens accepted for writes (and reads). */
  apiToken?: string | string[]
  /** A file holding more write tokens, one per line; `#` starts a comment. */
  apiTokenFile?: string
  /** When set, reads need one of these (or a write token). */
  apiReadToken?: string | string[]
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]).filter((x) => x !== '')

export interface Auth {
  /**
   * onRequest hook for every write route (`{ onRequest: app.requireWrite }`;
   * buildApi adds it to every route marked `config.write` or not GET/HEAD).
   * It runs before the body is read or parsed: a request without the token
   * costs nothing and gets 401, whatever its body.
   */
  requireWrite: onRequestHookHandler
  /** onRequest hook for reads; routes with `config: { public: true }` skip it. */
  requireRead: onRequestHookHandler
  /** The read check on a raw Authorization header (for handlers in front of fastify). */
  allowsRead: (authorization: string | undefined) => boolean
  /** Whether this Authorization header carries a write token (e.g. to show secrets). */
  allowsWrite: (authorization: string | undefined) => boolean
  readonly writeEnabled: boolean
  readonly readProtected: boolean
  /** What an Authorization header's token may do (the console greys out writes for a read token). */
  access: (authorization: string | undefined) => TokenAccess
}

/** none: no token sent; wrong: matches no token this registry accepts. */
export type TokenAccess = 'none' | 'read' | 'write' | 'wrong'

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** Reads a token file: one token per line, blank lines and `#` comments ignored. */
export function readTokenFile (path: string): string[] {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch (err) {
    throw new ConfigError('registry', [{ field: 'apiTokenFile', message: `cannot read ${path}: ${(err as Error).message}` }])
  }
  return text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '')
}

function tokenSet (tokens: string[]): Buffer[] {
  for (const t of tokens) {
    if (t.length < 8) throw new ConfigError('registry', [{ field: 'apiToken', message: 'every token needs at least 8 characters' }])
  }
  return tokens.map(digest)
}

// Always walks the whole list: the time taken does not depend on which token matched.
function matches (given: string, set: Buffer[]): boolean {
  const d = digest(given)
  let ok = false
  for (const t of set) ok = timingSafeEqual(d, t) || ok
  return ok
}

function bearer (request: FastifyRequest): string | undefined {
  return bearerOf(request.headers.authorization)
}

function bearerOf (h: string | undefined): string | undefined {
  if (typeof h !== 'string') return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h)
  return m?.[1]
}

const MISSING = 'missing bearer token: send "Authorization: Bearer <token>" (driftgate --token or DRIFTGATE_TOKEN)'
const WRONG = 'wrong bearer token: it matches none of the tokens this registry accepts'
const READ_ONLY = 'this token can read but not write: writes need a write token (--api-token)'

// undefined when allowed, else the 401 to answer with.
function check (request: FastifyRequest, reply: FastifyReply, set: Buffer[]): UnauthorizedError | undefined {
  const token = bearer(request)
  if (token !== undefined && matches(token, set)) return undefined
  void reply.header('www-authenticate', 'Bearer realm="driftgate"')
  return new UnauthorizedError(token === undefined ? MISSING : WRONG)
}

export function createAuth (cfg: AuthConfig): Auth {
  const write = tokenSet([...list(cfg.apiToken), ...(cfg.apiTokenFile != null ? readTokenFile(cfg.apiTokenFile) : [])])
  const readOnly = tokenSet(list(cfg.apiReadToken))
  const read = [...write, ...readOnly]
  const readProtected = list(cfg.apiReadToken).length > 0

  const requireWrite: onRequestHookHandler = function (request, reply, done) {
    if (write.length === 0) {
      done(new UnauthorizedError('writes are disabled: this registry was started without --api-token (or a token file)'))
      return
    }
    const refused = check(request, reply, write)
    // A read token on a write route: say so, rather than "wrong token".
    const token = refused === undefined ? undefined : bearer(request)
    done(token !== undefined && readOnly.length > 0 && matches(token, readOnly) ? new UnauthorizedError(READ_ONLY) : refused)
  }
  const requireRead: onRequestHookHandler = function (request, reply, done) {
    const config = request.routeOptions.config as { public?: boolean, write?: boolean } | undefined
    // Write routes check their own (stronger) token in their own onRequest hook.
    if (!readProtected || config?.public === true || config?.write === true) { done(); return }
    done(check(request, reply, read))
  }
  const allowsRead = (authorization: string | undefined): boolean => {
    if (!readProtected) return true
    const token = bearerOf(authorization)
    return token !== undefined && matches(token, read)
  }
  const allowsWrite = (authorization: string | undefined): boolean => {
    const token = bearerOf(authorization)
    return write.length > 0 && token !== undefined && matches(token, write)
  }
  const access = (authorization: string | undefined): TokenAccess => {
    const token = bearerOf(authorization)
    if (token === undefined) return 'none'
    if (write.length > 0 && matches(token, write)) return 'write'
    return readOnly.length > 0 && matches(token, readOnly) ? 'read' : 'wrong'
  }
  return { requireWrite, requireRead, allowsRead, allowsWrite, access, writeEnabled: write.length > 0, readProtected }
}
