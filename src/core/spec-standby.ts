// The spec's `standby` block (issue 21): another site keeps a copy of this
// service at `replicas` (default 0) and scales it to this site's count when
// it decides this site is lost (docs/architecture.md "Sites", standby). Its
// own file so that spec.ts gains one line.
import { SITE_PATTERN } from './spec-failover.js'

export const standbySchema = {
  type: 'object',
  required: ['site'],
  properties: {
    site: { type: 'string', pattern: SITE_PATTERN, maxLength: 63 },
    // What the standby site runs while this site serves (0: nothing, only the spec).
    replicas: { type: 'integer', minimum: 0, maximum: 1000, default: 0 },
  },
  additionalProperties: false,
} as const

export interface StandbySpec { site: string, replicas: number }
