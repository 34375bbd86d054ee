// Every error driftgate raises on purpose is defined here, with a stable code,
// so logs, HTTP answers and tests can match on `code` instead of on prose.

export const ErrorCodes = {
  CONFIG_INVALID: 'DG_CONFIG_INVALID',
  VALIDATION: 'DG_VALIDATION',
  INVALID_NAME: 'DG_INVALID_NAME',
  NOT_FOUND: 'DG_NOT_FOUND',
  CONFLICT: 'DG_CONFLICT',
  UNAUTHORIZED: 'DG_UNAUTHORIZED',
  NATS_UNAVAILABLE: 'DG_NATS_UNAVAILABLE',
  DOCKER_UNAVAILABLE: 'DG_DOCKER_UNAVAILABLE',
  NGINX_REJECTED: 'DG_NGINX_REJECTED',
  NGINX_RELOAD_FAILED: 'DG_NGINX_RELOAD_FAILED',
  NGINX_TEST_FAILED: 'DG_NGINX_TEST_FAILED',
  NGINX_NOT_RUNNING: 'DG_NGINX_NOT_RUNNING',
  NGINX_PUSH_FAILED: 'DG_NGINX_PUSH_FAILED',
  TEMPLATE: 'DG_TEMPLATE',
  IPAM: 'DG_IPAM',
  IPAM_EXHAUSTED: 'DG_IPAM_EXHAUSTED',
  IPAM_TAKEN: 'DG_IPAM_TAKEN',
  IPAM_NOT_OWNER: 'DG_IPAM_NOT_OWNER',
  UNSCHEDULABLE: 'DG_UNSCHEDULABLE',
  TIMEOUT: 'DG_TIMEOUT',
  PREFLIGHT: 'DG_PREFLIGHT',
  TOO_MANY_REQUESTS: 'DG_TOO_MANY_REQUESTS',
  ROUTE_CONFLICT: 'DG_ROUTE_CONFLICT',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export class DriftgateError extends Error {
  readonly code: ErrorCode
  readonly details?: unknown
  constructor (code: ErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.details = details
  }
}

/** One problem with one field, e.g. `{ field: '/port', message: 'must be <= 65535' }`. */
export interface FieldProblem { field: string, message: string }

function listProblems (problems: FieldProblem[]): string {
  return problems.map((p) => `  - ${p.field || '(root)'}: ${p.message}`).join('\n')
}

/** Configuration problems, all reported at once, each naming its field. */
export class ConfigError extends DriftgateError {
  readonly problems: FieldProblem[]
  constructor (role: string, problems: FieldProblem[]) {
    super(ErrorCodes.CONFIG_INVALID, `invalid ${role} configuration:\n${listProblems(problems)}`, problems)
    this.problems = problems
  }
}

/** A message, spec or request body that does not match its schema. */
export class ValidationError extends DriftgateError {
  readonly problems: FieldProblem[]
  constructor (what: string, problems: FieldProblem[]) {
    super(ErrorCodes.VALIDATION, `invalid ${what}:\n${listProblems(problems)}`, problems)
    this.problems = problems
  }
}

export class InvalidNameError extends DriftgateError {
  constructor (kind: string, value: unknown) {
    super(ErrorCodes.INVALID_NAME,
      `invalid ${kind} ${JSON.stringify(String(value)).slice(0, 80)}: must be a DNS label ` +
      '(lowercase letters, digits and inner dashes, 1-63 characters)')
  }
}

export class NotFoundError extends DriftgateError {
  constructor (what: string) { super(ErrorCodes.NOT_FOUND, `${what} not found`) }
}

export class ConflictError extends DriftgateError {
  constructor (message: string) { super(ErrorCodes.CONFLICT, message) }
}

export class UnauthorizedError extends DriftgateError {
  constructor (message = 'missing or wrong bearer token: pass --token or set DRIFTGATE_TOKEN') {
    super(ErrorCodes.UNAUTHORIZED, message)
  }
}

/** A bounded resource (parked blocking queries, ...) is full: retry later. */
export class TooManyRequestsError extends DriftgateError {
  constructor (message: string) { super(ErrorCodes.TOO_MANY_REQUESTS, message) }
}

export class TimeoutError extends DriftgateError {
  constructor (what: string, ms: number) { super(ErrorCodes.TIMEOUT, `${what} timed out after ${ms} ms`) }
}

/** A template that does not compile or render, or prints a value that is not a safe nginx token. */
export class TemplateError extends DriftgateError {
  constructor (message: string, options?: { cause?: unknown }) { super(ErrorCodes.TEMPLATE, message, undefined, options) }
}

/** `nginx -t` refused a rendered configuration; `output` is nginx's own message. */
export class NginxRejectedError extends DriftgateError {
  readonly output: string
  constructor (output: string) {
    super(ErrorCodes.NGINX_REJECTED, `nginx -t rejected the configuration: ${output.trim().slice(0, 2000)}`)
    this.output = output
  }
}

/** A reload that could not be sent or did not take effect in time. */
export class NginxReloadError extends DriftgateError {
  constructor (message: string, options?: { cause?: unknown }) { super(ErrorCodes.NGINX_RELOAD_FAILED, message, undefined, options) }
}

/**
 * `nginx -t` could not give a verdict: its helper crashed or it timed out.
 * Not a rejection of the config: retried with backoff.
 */
export class NginxTestError extends DriftgateError {
  constructor (message: string) { super(ErrorCodes.NGINX_TEST_FAILED, message) }
}

/** No nginx master to reload (no pid file, or a stale one): files stay written for when it starts. */
export class NginxNotRunningError extends DriftgateError {
  constructor (message: string, options?: { cause?: unknown }) { super(ErrorCodes.NGINX_NOT_RUNNING, message, undefined, options) }
}

/** An endpoint push over nginx's control channel failed (lua mode). */
export class NginxPushError extends DriftgateError {
  constructor (message: string, options?: { cause?: unknown }) { super(ErrorCodes.NGINX_PUSH_FAILED, message, undefined, options) }
}

/**
 * Something this machine lacks for `driftgate up` / `driftgate demo` (root, a
 * binary, a free port, a reachable dockerd). The message says what to do.
 */
export class PreflightError extends DriftgateError {
  constructor (message: string) { super(ErrorCodes.PREFLIGHT, message) }
}

/** A spec claims a host+path that another service's spec holds (issue 16): nothing is written. */
export class RouteConflictError extends DriftgateError {
  readonly problems: string[]
  constructor (service: string, problems: string[]) {
    super(ErrorCodes.ROUTE_CONFLICT, `routes of service "${service}" conflict:\n${problems.map((p) => `  - ${p}`).join('\n')}`, problems)
    this.problems = problems
  }
}
