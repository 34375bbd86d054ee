// Turning a request body into a valid spec: pure, every problem names its field.
import { checkServiceSpec, normaliseRoutesInput, stableStringify, ValidationError, type ServiceSpec } from '../core/index.js'

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * The spec for PUT /v1/services/:name. `name` may be left out of the body (the
 * URL names it); when present it must match.
 */
export function specFromBody (name: string, body: unknown): ServiceSpec {
  if (!isObject(body)) throw new ValidationError('service spec', [{ field: '/', message: 'must be an object (JSON or YAML mapping)' }])
  if (body.name !== undefined && body.name !== name) {
    throw new ValidationError('service spec', [{ field: '/name', message: `"${String(body.name)}" differs from the name in the URL ("${name}")` }])
  }
  // ajv fills defaults in place: work on a copy, the caller's body stays as sent.
  // host names are case-insensitive: stored in lower case
  const routes = body.routes !== undefined ? { routes: normaliseRoutesInput(body.routes) } : {}
  return checkServiceSpec(structuredClone({ ...body, name, ...routes }))
}

/** RFC 7386 JSON merge patch: objects merge recursively, null removes, anything else replaces. */
export function mergePatch (target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

/** The spec after PATCH: the merge of the current spec and the patch, validated again. */
export function patchSpec (current: ServiceSpec, patch: unknown): ServiceSpec {
  if (!isObject(patch) || Object.keys(patch).length === 0) {
    throw new ValidationError('patch', [{ field: '/', message: 'must be a non-empty object, e.g. {"replicas": 5}' }])
  }
  if (patch.name !== undefined && patch.name !== current.name) {
    throw new ValidationError('patch', [{ field: '/name', message: 'a service cannot be renamed: apply it under the new name and delete the old one' }])
  }
  return specFromBody(current.name, mergePatch(current, patch))
}

export function sameSpec (a: ServiceSpec, b: ServiceSpec): boolean {
  return stableStringify(a) === stableStringify(b)
}
