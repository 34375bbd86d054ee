// `driftgate_site` `<registry>` (issue 21): what each registry of a site tells
// the other sites about it, rewritten every second with a plain put. Other
// sites mirror this bucket, not the host table, for the site's liveness and
// its standby services: nats-server 2.9.10 mirrors re-check the CAS header
// (Nats-Expected-Last-Subject-Sequence) that every registry write of the host
// and service tables carries, and a mirror that missed one revision of a key
// refuses every later one (docs/architecture.md "Sites", measured). A plain
// put has one writer per key and no such header.
import { checker } from './validate.js'
import { label, time } from './schema-parts.js'
import { serviceSpecSchema, type ServiceSpec } from './spec.js'

/** One service of this site that names a standby site. */
export interface StandbyExport {
  /** The spec as applied here (its `standby` names the other site and its count). */
  spec: ServiceSpec
  /** Running, routable replicas here right now. */
  routable: number
}

export interface SiteSummary {
  v: 1
  site: string
  /** The writing registry's name. */
  registry: string
  /** Writer's clock (shown only: readers judge freshness by their own clock). */
  at: number
  hosts: { up: number, suspect: number, down: number }
  standby: StandbyExport[]
}

/** Standby services per summary: a summary stays far below the KV message limit. */
export const MAX_STANDBY_EXPORTS = 200

const count = { type: 'integer', minimum: 0, maximum: 1_000_000 } as const

export const siteSummarySchema = {
  type: 'object',
  required: ['v', 'site', 'registry', 'at', 'hosts', 'standby'],
  properties: {
    v: { const: 1 },
    site: label,
    registry: { type: 'string', minLength: 1, maxLength: 128 },
    at: time,
    hosts: {
      type: 'object',
      required: ['up', 'suspect', 'down'],
      properties: { up: count, suspect: count, down: count },
      additionalProperties: false,
    },
    standby: {
      type: 'array',
      maxItems: MAX_STANDBY_EXPORTS,
      items: {
        type: 'object',
        required: ['spec', 'routable'],
        properties: { spec: serviceSpecSchema, routable: count },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const

export const checkSiteSummary = checker<SiteSummary>('site summary', siteSummarySchema)
