// Pure: what nginx's /driftgate/stats answered → the stats message this
// renderer publishes (`<prefix>.stats.renderer.<id>`). Counters are passed on
// as they are (cumulative since nginx's boot): the registry computes rates
// and detects resets, so a lost report costs resolution, never a wrong sum.
import { MAX_STATS_SERVICES, type RendererStatsMessage, type ServiceCounters } from '../core/index.js'
import type { Stats } from './control-channel.js'

export type StatsReport =
  | { ok: true, message: RendererStatsMessage }
  | { ok: false, reason: 'no_boot' | 'too_many_services', detail: string }

const BOOT = /^[A-Za-z0-9]{1,64}$/

export function buildStatsReport (renderer: string, stats: Stats, at: number): StatsReport {
  if (typeof stats.boot !== 'string' || !BOOT.test(stats.boot)) return { ok: false, reason: 'no_boot', detail: `boot id ${JSON.stringify(stats.boot)}` }
  const entries = Object.entries(stats.services ?? {})
  if (entries.length > MAX_STATS_SERVICES) {
    return { ok: false, reason: 'too_many_services', detail: `${entries.length} services, at most ${MAX_STATS_SERVICES} per report` }
  }
  const services: Record<string, ServiceCounters> = {}
  for (const [name, pair] of entries) {
    // [requests, errors] as the Lua side writes them; anything else is not a counter
    const [requests, errors] = Array.isArray(pair) ? pair : [NaN, NaN]
    if (!isCount(requests) || !isCount(errors)) continue
    services[name] = { requests, errors }
  }
  return { ok: true, message: { v: 1, renderer, boot: stats.boot, at, services } }
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
