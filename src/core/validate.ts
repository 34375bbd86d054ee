// One ajv instance for the whole process; validators are compiled once.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsImport from 'ajv-formats'
import { ValidationError, type FieldProblem } from './errors.js'
import { addKeywords } from './schema-keywords.js'
import {
  eventSchema, snapshotSchema, heartbeatSchema, endpointRecordSchema, hostRecordSchema, appliedSchema,
} from './schemas.js'
import { serviceSpecSchema, serviceRecordSchema } from './spec.js'
import type {
  EventMessage, SnapshotMessage, HeartbeatMessage, EndpointRecord, HostRecord, AppliedMessage,
} from './types.js'
import type { ServiceSpec, ServiceRecord } from './spec.js'

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsImport as unknown as { default?: unknown }).default ?? addFormatsImport) as
  (ajv: Ajv, formats?: string[]) => Ajv

export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false })
addFormats(ajv, ['ipv4', 'ipv6', 'uri'])
addKeywords(ajv)

export function toProblems (errors: ErrorObject[] | null | undefined): FieldProblem[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const extra = e.keyword === 'additionalProperties'
        ? `: unknown field "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`
        : ''
      return { field: e.instancePath || '/', message: `${e.message ?? 'invalid'}${extra}` }
    })
}

/** A typed checker: `check(value)` returns the value or throws ValidationError. */
export interface Checker<T> {
  (value: unknown): T
  /** Non-throwing form for hot paths: null when valid, else the problems. */
  problems: (value: unknown) => FieldProblem[] | null
}

export function checker<T> (what: string, schema: object): Checker<T> {
  const validate: ValidateFunction = ajv.compile(schema)
  const fn = ((value: unknown): T => {
    if (!validate(value)) throw new ValidationError(what, toProblems(validate.errors))
    return value as T
  }) as Checker<T>
  fn.problems = (value: unknown) => (validate(value) ? null : toProblems(validate.errors))
  return fn
}

export const checkEvent = checker<EventMessage>('event', eventSchema)
export const checkSnapshot = checker<SnapshotMessage>('snapshot', snapshotSchema)
export const checkHeartbeat = checker<HeartbeatMessage>('heartbeat', heartbeatSchema)
export const checkEndpointRecord = checker<EndpointRecord>('endpoint record', endpointRecordSchema)
export const checkHostRecord = checker<HostRecord>('host record', hostRecordSchema)
export const checkApplied = checker<AppliedMessage>('applied message', appliedSchema)
export const checkServiceSpec = checker<ServiceSpec>('service spec', serviceSpecSchema)
export const checkServiceRecord = checker<ServiceRecord>('service record', serviceRecordSchema)
