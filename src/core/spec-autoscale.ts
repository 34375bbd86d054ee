// The `autoscale` part of a service spec (issue 19): replicas follow CPU and
// request load within [min, max]. Cross-field rules (min ≤ max, a CPU target
// needs `resources.cpu`, at least one target) are the `autoscaleRules` keyword below: JSON schema
// alone cannot compare two fields.
import type { ErrorObject, SchemaValidateFunction } from 'ajv'
import { DURATION_PATTERN, MAX_SPEC_DURATION, parseDuration } from './duration.js'

/** The spec's own `replicas` maximum: the autoscaler never writes more. */
export const MAX_AUTOSCALE_REPLICAS = 1000

const window = (def: string) =>
  ({ type: 'string', maxLength: 32, pattern: DURATION_PATTERN, durationRange: { max: MAX_SPEC_DURATION }, default: def }) as const

export const autoscaleSchema = {
  type: 'object',
  required: ['min', 'max'],
  properties: {
    // No scale to zero: a service without replicas has no CPU or requests to measure.
    min: { type: 'integer', minimum: 1, maximum: MAX_AUTOSCALE_REPLICAS },
    max: { type: 'integer', minimum: 1, maximum: MAX_AUTOSCALE_REPLICAS },
    /** Average CPU use of the replicas, percent of each replica's limit (`resources.cpu`). */
    cpu: { type: 'integer', minimum: 1, maximum: 100 },
    /** Requests per second per replica, from the renderers' per-service counts. */
    requestsPerReplica: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 },
    scaleUpStabilization: window('0s'),
    scaleDownStabilization: window('5m'),
  },
  additionalProperties: false,
  autoscaleRules: true,
} as const

export interface AutoscaleSpec {
  min: number
  max: number
  cpu?: number
  requestsPerReplica?: number
  scaleUpStabilization?: string
  scaleDownStabilization?: string
}

/** The windows in milliseconds (defaults applied). */
export function autoscaleWindows (a: AutoscaleSpec): { upMs: number, downMs: number } {
  return { upMs: parseDuration(a.scaleUpStabilization ?? '0s'), downMs: parseDuration(a.scaleDownStabilization ?? '5m') }
}

/** The problem with an autoscale block inside its spec, or null. */
export function autoscaleProblem (a: Partial<AutoscaleSpec>, spec: { resources?: { cpu?: number } } | undefined): string | null {
  if (typeof a.min === 'number' && typeof a.max === 'number' && a.min > a.max) return `min (${a.min}) must not exceed max (${a.max})`
  if (a.cpu === undefined && a.requestsPerReplica === undefined) return 'needs at least one target: cpu (percent of the CPU limit) or requestsPerReplica'
  if (a.cpu !== undefined && spec?.resources?.cpu === undefined) {
    return 'a cpu target is a percentage of each replica\'s CPU limit: set resources.cpu too (e.g. resources: { cpu: 0.5 })'
  }
  return null
}

/** `autoscaleRules: true` on the autoscale object; sees the whole spec as its parent. */
export const autoscaleRulesKeyword = (() => {
  const validate: SchemaValidateFunction = (on: unknown, data: unknown, _p?: unknown, cxt?: { parentData?: unknown }): boolean => {
    if (on !== true || data === null || typeof data !== 'object') return true
    const message = autoscaleProblem(data as Partial<AutoscaleSpec>, cxt?.parentData as { resources?: { cpu?: number } })
    if (message === null) return true
    validate.errors = [{ keyword: 'autoscaleRules', message, params: {} } as ErrorObject]
    return false
  }
  return { keyword: 'autoscaleRules', type: 'object', schemaType: 'boolean', errors: true, validate } as const
})()
