// DriftgateError codes → HTTP statuses, and the one JSON error shape every
// route answers with: `{ error: { code, message } }`.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DriftgateError, ErrorCodes, InvalidNameError, type ErrorCode } from '../../core/index.js'

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.VALIDATION]: 400,
  [ErrorCodes.INVALID_NAME]: 400,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.IPAM_NOT_OWNER]: 403,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.CONFLICT]: 409,
  [ErrorCodes.ROUTE_CONFLICT]: 409,
  [ErrorCodes.IPAM_TAKEN]: 409,
  [ErrorCodes.UNSCHEDULABLE]: 422,
  [ErrorCodes.TOO_MANY_REQUESTS]: 429,
  [ErrorCodes.NATS_UNAVAILABLE]: 503,
  [ErrorCodes.IPAM_EXHAUSTED]: 503,
  [ErrorCodes.TIMEOUT]: 504,
}

export function statusOf (code: ErrorCode): number { return STATUS[code] ?? 500 }

export interface ErrorBody { error: { code: string, message: string, details?: unknown } }

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const

export function errorBody (code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } }
}

// Schema failures on a `name` parameter are name errors, with the name rule in
// the message; other schema failures are plain validation errors.
function fromFastify (err: FastifyError, request: FastifyRequest): DriftgateError | null {
  if (err.validation == null) return null
  const params = request.params as Record<string, unknown> | undefined
  if (err.validationContext === 'params' && params != null) {
    const field = err.validation[0]?.instancePath.replace(/^\//, '') ?? ''
    if (field !== '' && field in params) return new InvalidNameError(`${field === 'name' ? 'service' : field} name`, params[field])
  }
  return new DriftgateError(ErrorCodes.VALIDATION, `invalid request ${err.validationContext ?? ''}: ${err.message}`.replace(/ {2}/, ' '))
}

/** Installs the error and not-found handlers on an API instance. */
export function installErrorHandlers (app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const dg = err instanceof DriftgateError ? err : fromFastify(err, request)
    if (dg != null) {
      const details = dg.code === ErrorCodes.VALIDATION || dg.code === ErrorCodes.ROUTE_CONFLICT ? dg.details : undefined
      return reply.code(statusOf(dg.code)).send(errorBody(dg.code, dg.message, details))
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status >= 500) request.log.error({ err, url: request.url }, 'request failed')
    const code = status === 500 ? 'DG_INTERNAL' : (err.code ?? 'DG_BAD_REQUEST')
    return reply.code(status).send(errorBody(code, status === 500 ? 'internal error' : err.message))
  })
  const notFound = (request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    reply.code(404).send(errorBody(ErrorCodes.NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0]}`))
  // Answered in onRequest: a body sent to no route is never read or parsed.
  // (fastify runs any lifecycle hook given here; its types list only two.)
  const opts = { onRequest: (request: FastifyRequest, reply: FastifyReply, done: () => void) => { void notFound(request, reply); done() } }
  app.setNotFoundHandler(opts as Parameters<FastifyInstance['setNotFoundHandler']>[0] & object, notFound)
}
