// The registry API's HTTP client, used by the client commands (apply, scale,
// status, rm) and the demo: the API from --api / DRIFTGATE_API, the token from
// --token / DRIFTGATE_TOKEN, and errors that say what to do next rather than
// what went wrong inside.
import { DriftgateError, ErrorCodes, UnauthorizedError, ValidationError, type ErrorCode, type FieldProblem } from '../core/index.js'

export interface ActivityPage {
  events: Array<{ seq: number, kind: string, at: number, message: string, service?: string, host?: string }>
  next: number
  first: number
}

export const DEFAULT_API = 'http://127.0.0.1:7070'

/** `client` goes to the registry as X-Driftgate-Client: history records it as who made a change (default cli). */
export interface ClientOptions { api?: string, token?: string, timeoutMs?: number, client?: string }

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes))

export class ApiClient {
  readonly base: string
  private readonly token?: string
  private timeoutMs: number
  private readonly client: string

  constructor (o: ClientOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    this.base = (o.api ?? env.DRIFTGATE_API ?? DEFAULT_API).replace(/\/+$/, '')
    const token = o.token ?? env.DRIFTGATE_TOKEN
    this.token = token !== undefined && token !== '' ? token : undefined
    this.timeoutMs = o.timeoutMs ?? 15_000
    this.client = o.client ?? 'cli'
    if (!/^https?:\/\/[^/]+/.test(this.base)) {
      throw new DriftgateError(ErrorCodes.CONFIG_INVALID, `--api "${this.base}" is not an http(s) URL, e.g. ${DEFAULT_API}`)
    }
  }

  async get<T> (path: string): Promise<T> { return await this.call<T>('GET', path) }
  async put<T> (path: string, body: unknown): Promise<T> { return await this.call<T>('PUT', path, body) }
  async patch<T> (path: string, body: unknown): Promise<T> { return await this.call<T>('PATCH', path, body) }
  async delete<T> (path: string): Promise<T> { return await this.call<T>('DELETE', path) }

  async post<T> (path: string, body: unknown): Promise<T> { return await this.call<T>('POST', path, body) }

  /**
   * Blocks until the activity feed moves past `since` or `waitMs` pass: the
   * next cursor and the events (a blocking query, not polling).
   */
  async nextEvents (since: number | undefined, waitMs: number, service?: string): Promise<ActivityPage> {
    const q = new URLSearchParams()
    if (since !== undefined) q.set('since', String(since))
    if (service !== undefined) q.set('service', service)
    q.set('wait', `${Math.max(1, Math.round(waitMs / 1000))}s`)
    const saved = this.timeoutMs
    try {
      this.timeoutMs = waitMs + 15_000
      return await this.call<ActivityPage>('GET', `/v1/events?${q.toString()}`)
    } finally { this.timeoutMs = saved }
  }

  /** A GET whose body the caller reads as it streams (logs); failures are thrown as for call(). */
  async open (path: string, signal?: AbortSignal): Promise<Response> {
    const res = await this.send('GET', path, 'application/x-ndjson', undefined, signal)
    if (res.ok) return res
    const text = await res.text()
    throw this.failure('GET', path, res.status, parseJson(text), text)
  }

  async call<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, 'application/json', body, AbortSignal.timeout(this.timeoutMs))
    const text = await res.text()
    const data = text === '' ? {} : parseJson(text)
    if (res.ok) return data as T
    throw this.failure(method, path, res.status, data, text)
  }

  /** One request with the client's headers; an unreachable registry becomes an error that says what to do. */
  private async send (method: string, path: string, accept: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
    const headers: Record<string, string> = { accept, 'x-driftgate-client': this.client }
    // No content-type without a body: fastify refuses an empty JSON body.
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    try {
      return await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal })
    } catch (err) {
      // The caller stopped (following logs): not a failure. A timeout is one.
      if (signal?.aborted === true && (signal.reason as Error | undefined)?.name !== 'TimeoutError') throw err
      const c = (err as { cause?: { code?: string, message?: string, errors?: Array<{ code?: string }> } }).cause
      const cause = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (err as Error).message
      throw new DriftgateError(ErrorCodes.NATS_UNAVAILABLE,
        `cannot reach the registry API at ${this.base} (${cause}): is \`driftgate registry\` running there? ` +
        'Point --api or DRIFTGATE_API at it.')
    }
  }

  private failure (method: string, path: string, status: number, data: unknown, text: string): DriftgateError {
    const e = (data as { error?: { code?: string, message?: string, details?: unknown } } | undefined)?.error
    const message = e?.message ?? (text.slice(0, 200) || `HTTP ${status}`)
    if (status === 401) {
      const hint = this.token === undefined ? ' Pass --token or set DRIFTGATE_TOKEN to the registry\'s --api-token.' : ''
      return new UnauthorizedError(`${message}.${hint}`.replace(/\.\./, '.'))
    }
    if (status === 400 && Array.isArray(e?.details)) return new ValidationError('request', e.details as FieldProblem[])
    if (status === 404 && /no route/.test(message)) {
      return new DriftgateError(ErrorCodes.NOT_FOUND, `${this.base} does not serve ${method} ${path.split('?')[0]}: ` +
        'is --api pointing at a driftgate registry of this version?')
    }
    const code = (e?.code !== undefined && KNOWN_CODES.has(e.code) ? e.code : ErrorCodes.VALIDATION) as ErrorCode
    return new DriftgateError(code, message)
  }
}

function parseJson (text: string): unknown {
  try { return JSON.parse(text) } catch { return undefined }
}
