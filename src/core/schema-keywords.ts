// Custom ajv keywords for rules a JSON-schema pattern cannot say: a
// duration's or size's value (not its spelling) within bounds, an IPv4
// address that can be a container's, a network name that is not one of
// Docker's own. Each gives one clear message; each passes a value of the
// wrong shape, which `type`/`pattern` next to it already reports.
import type { Ajv, ErrorObject, SchemaValidateFunction } from 'ajv'
import { durationMs, sizeBytes, NGINX_SECONDS_PATTERN } from './duration.js'
import { endpointIpProblem, networkNameProblem } from './names.js'
import { autoscaleRulesKeyword } from './spec-autoscale.js'

type Check = (schema: never, data: string) => string | null

function keyword (ajv: Ajv, name: string, schemaType: 'object' | 'boolean', check: Check): void {
  const validate: SchemaValidateFunction = (schema: unknown, data: unknown): boolean => {
    if (typeof data !== 'string') return true
    const message = check(schema as never, data)
    if (message === null) return true
    // instancePath/schemaPath left out: ajv fills them in only when absent.
    validate.errors = [{ keyword: name, message, params: {} } as ErrorObject]
    return false
  }
  ajv.addKeyword({ keyword: name, type: 'string', schemaType, errors: true, validate })
}

/** `durationRange: { min?: '1ms', max: '1h' }` */
function durationRange (s: { min?: string, max?: string }, data: string): string | null {
  const ms = durationMs(data)
  if (ms === undefined) return null
  if (s.max !== undefined && ms > (durationMs(s.max) ?? Infinity)) return `must be at most ${s.max}`
  if (s.min !== undefined && ms < (durationMs(s.min) ?? 0)) return `must be at least ${s.min}`
  return null
}

/** `sizeRange: { min?: '6Mi', max: '64Ti' }`: 0 always passes ("no limit"). */
function sizeRange (s: { min?: string, max?: string }, data: string): string | null {
  const bytes = sizeBytes(data)
  if (bytes === undefined || bytes === 0) return null
  if (s.max !== undefined && bytes > (sizeBytes(s.max) ?? Infinity)) return `must be at most ${s.max}`
  if (s.min !== undefined && bytes < (sizeBytes(s.min) ?? 0)) return `must be 0 (no limit) or at least ${s.min}`
  return null
}

export function addKeywords (ajv: Ajv): void {
  keyword(ajv, 'durationRange', 'object', durationRange as Check)
  keyword(ajv, 'sizeRange', 'object', sizeRange as Check)
  keyword(ajv, 'endpointIp', 'boolean', ((on: boolean, data: string) => {
    const p = on ? endpointIpProblem(data) : null
    // "not an IPv4 address" is format's message already.
    return p === null || p === 'not an IPv4 address' ? null : `must not be ${p}`
  }) as Check)
  const nginxSeconds = new RegExp(NGINX_SECONDS_PATTERN)
  keyword(ajv, 'nginxSeconds', 'boolean', ((on: boolean, data: string) => (!on || nginxSeconds.test(data)
    ? null
    : 'must be whole seconds, minutes or hours, e.g. 10s (nginx fail_timeout takes no ms and no fraction)')) as Check)
  keyword(ajv, 'userNetwork', 'boolean', ((on: boolean, data: string) => (on ? networkNameProblem(data) : null)) as Check)
  // min ≤ max, a target, resources.cpu for a cpu target (the spec's autoscale block).
  ajv.addKeyword(autoscaleRulesKeyword)
}
