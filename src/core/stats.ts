// `<prefix>.stats.renderer.<renderer>`: a lua-mode renderer's per-service
// counters as nginx's shared dict holds them (cumulative since nginx's boot),
// published every --stats-interval. The registry turns them into rates.
import { checker } from './validate.js'
import { label, time } from './schema-parts.js'

export interface ServiceCounters {
  /** Requests nginx balanced for the service (`r:<svc>` in the dict). */
  requests: number
  /** Tries that failed: connect error, timeout, a counted next-upstream status (`e:<svc>`). */
  errors: number
}

export interface RendererStatsMessage {
  v: 1
  renderer: string
  /** nginx's boot id: a new one means the counters restarted from 0. */
  boot: string
  /** When the dict was read (the renderer's clock, ms since epoch). */
  at: number
  services: Record<string, ServiceCounters>
}

/** More services than this in one report is refused (a report of 20,000 is ~1 MB). */
export const MAX_STATS_SERVICES = 20_000

const counter = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const

export const rendererStatsSchema = {
  type: 'object',
  required: ['v', 'renderer', 'boot', 'at', 'services'],
  properties: {
    v: { const: 1 },
    renderer: label,
    boot: { type: 'string', pattern: '^[A-Za-z0-9]{1,64}$' },
    at: time,
    services: {
      type: 'object',
      maxProperties: MAX_STATS_SERVICES,
      propertyNames: label,
      additionalProperties: {
        type: 'object',
        required: ['requests', 'errors'],
        properties: { requests: counter, errors: counter },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const

export const checkRendererStats = checker<RendererStatsMessage>('renderer stats message', rendererStatsSchema)

/** A service's request load from the renderers' reports (registry/stats computes it; the autoscaler reads it). */
export interface ServiceRate {
  requestsPerSec: number
  errorsPerSec: number
  /** Renderers whose counters make up this rate. */
  renderers: number
  /** When the newest counters in it were read (ms since epoch, the renderers' clocks). */
  at: number
  /** Increases the rates come from, summed over renderers (each over its own span ≤ the window). */
  requests: number
  errors: number
}
