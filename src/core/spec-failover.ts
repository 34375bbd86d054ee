// The spec's `failover` block (issue 21): which other sites' endpoints may
// serve this service when it has no live local one. Its own file so that
// spec.ts gains one line.
import { DNS_LABEL_PATTERN } from './names.js'

/** A site name: one DNS label, the same rule as services and hosts (it is also the JetStream domain). */
export const SITE_PATTERN = DNS_LABEL_PATTERN

export const failoverSchema = {
  type: 'object',
  required: ['sites'],
  properties: {
    // Tried in this order when the local set is empty.
    sites: { type: 'array', minItems: 1, maxItems: 8, uniqueItems: true, items: { type: 'string', pattern: SITE_PATTERN, maxLength: 63 } },
    mode: { enum: ['backup', 'spill'], default: 'backup' },
  },
  additionalProperties: false,
} as const

export type FailoverMode = 'backup' | 'spill'

export interface FailoverSpec { sites: string[], mode: FailoverMode }
