// The autoscaler's state per service, in `driftgate_leases` under
// `autoscale.<service>` (the leader's own bucket): the last evaluation with
// its metrics and reason, the last change of the replica count, and the
// recommendations the stabilization windows still need, so a new placement
// leader goes on where the last one stopped. Written by the leader only.
import { checker } from './validate.js'
import { label, time } from './schema-parts.js'

export interface AutoscaleMetricStatus {
  name: 'cpu' | 'requestsPerReplica'
  current: number | null
  target: number
  replicas: number
  reporting?: number
}

export interface AutoscaleChange { at: number, from: number, to: number, reason: string }

export interface AutoscaleStatusRecord {
  v: 1
  service: string
  /** When this evaluation ran. */
  at: number
  replicas: number
  desired: number
  action: 'up' | 'down' | 'hold'
  reason: string
  min: number
  max: number
  metrics: AutoscaleMetricStatus[]
  lastChange?: AutoscaleChange
  recommendations: Array<{ at: number, replicas: number }>
}

export const autoscaleStatusKey = (service: string): string => `autoscale.${service}`

const count = { type: 'integer', minimum: 0, maximum: 1_000_000 } as const
const reason = { type: 'string', maxLength: 1024 } as const

export const autoscaleStatusSchema = {
  type: 'object',
  required: ['v', 'service', 'at', 'replicas', 'desired', 'action', 'reason', 'min', 'max', 'metrics', 'recommendations'],
  properties: {
    v: { const: 1 },
    service: label,
    at: time,
    replicas: count,
    desired: count,
    action: { enum: ['up', 'down', 'hold'] },
    reason,
    min: count,
    max: count,
    metrics: {
      type: 'array',
      maxItems: 8,
      items: {
        type: 'object',
        required: ['name', 'current', 'target', 'replicas'],
        properties: {
          name: { enum: ['cpu', 'requestsPerReplica'] },
          current: { type: ['number', 'null'] },
          target: { type: 'number' },
          replicas: count,
          reporting: count,
        },
        additionalProperties: false,
      },
    },
    lastChange: {
      type: 'object',
      required: ['at', 'from', 'to', 'reason'],
      properties: { at: time, from: count, to: count, reason },
      additionalProperties: false,
    },
    recommendations: {
      type: 'array',
      maxItems: 4096,
      items: { type: 'object', required: ['at', 'replicas'], properties: { at: time, replicas: count }, additionalProperties: false },
    },
  },
  additionalProperties: false,
} as const

export const checkAutoscaleStatus = checker<AutoscaleStatusRecord>('autoscale status', autoscaleStatusSchema)
