// Pure: renderers' cumulative per-service counters → requests and upstream
// errors per second. Per renderer and service, the increase over the
// renderer's samples inside the window, divided by the time they span (the
// renderer's own clock, so network jitter does not bend the rate); summed
// over renderers. A counter that went down, or a new nginx boot id, is a
// reset: that step counts what the new counter holds (as Prometheus' rate()
// does). A renderer silent for more than 3 of its intervals drops out.
import type { RendererStatsMessage, ServiceCounters, ServiceRate } from '../../core/index.js'

export type { ServiceRate }

export interface RateOptions {
  /** Samples older than this (before a renderer's newest) are forgotten. */
  windowMs: number
  /** A renderer silent this many of its intervals drops out (default 3). */
  silentIntervals?: number
  /** Its interval until two reports show it (default 2 s, the renderer's default). */
  defaultIntervalMs?: number
  /** Most samples kept per renderer, whatever its interval (default 600). */
  maxSamples?: number
}

interface Sample { at: number, boot: string, services: Record<string, ServiceCounters> }
interface Source { samples: Sample[], heardAt: number }

export type ObserveResult = 'ok' | 'stale'

export class LoadRates {
  private readonly sources = new Map<string, Source>()
  private readonly silentIntervals: number
  private readonly defaultIntervalMs: number
  private readonly maxSamples: number

  constructor (private readonly opts: RateOptions) {
    this.silentIntervals = opts.silentIntervals ?? 3
    this.defaultIntervalMs = opts.defaultIntervalMs ?? 2000
    this.maxSamples = opts.maxSamples ?? 600
  }

  /** A report heard at `heardAt` (the registry's clock). One not newer than the last is ignored. */
  observe (m: RendererStatsMessage, heardAt: number): ObserveResult {
    let src = this.sources.get(m.renderer)
    if (src !== undefined && this.silent(src, heardAt)) src = undefined // back after silence: start afresh
    if (src === undefined) { src = { samples: [], heardAt }; this.sources.set(m.renderer, src) }
    const last = src.samples[src.samples.length - 1]
    if (last !== undefined && m.at <= last.at) return 'stale'
    src.samples.push({ at: m.at, boot: m.boot, services: m.services })
    src.heardAt = heardAt
    const from = m.at - this.opts.windowMs
    let drop = 0
    while (drop < src.samples.length - 2 && (src.samples[drop].at < from || src.samples.length - drop > this.maxSamples)) drop++
    if (drop > 0) src.samples.splice(0, drop)
    return 'ok'
  }

  /** Renderers heard from recently enough to count. */
  renderers (now: number): string[] {
    return [...this.sources].filter(([, s]) => !this.silent(s, now)).map(([id]) => id)
  }

  rate (service: string, now: number): ServiceRate | undefined {
    let out: ServiceRate | undefined
    for (const src of this.live(now)) {
      const r = sourceRate(src.samples, service)
      if (r === undefined) continue
      out = out === undefined ? r : add(out, r)
    }
    return out
  }

  all (now: number): Record<string, ServiceRate> {
    const names = new Set<string>()
    const live = this.live(now)
    for (const src of live) for (const s of src.samples) for (const n of Object.keys(s.services)) names.add(n)
    const out: Record<string, ServiceRate> = {}
    for (const n of [...names].sort()) {
      const r = this.rate(n, now)
      if (r !== undefined) out[n] = r
    }
    return out
  }

  /** Forgets renderers that fell silent (their samples would only make stale rates). */
  prune (now: number): void {
    for (const [id, src] of this.sources) if (this.silent(src, now)) this.sources.delete(id)
  }

  private live (now: number): Source[] {
    return [...this.sources.values()].filter((s) => !this.silent(s, now))
  }

  private silent (src: Source, now: number): boolean {
    const n = src.samples.length
    const interval = n >= 2 ? src.samples[n - 1].at - src.samples[n - 2].at : this.defaultIntervalMs
    return now - src.heardAt > this.silentIntervals * Math.max(1, interval)
  }
}

/** One renderer's rate for one service, or undefined when fewer than two samples span time or none names it. */
function sourceRate (samples: Sample[], service: string): ServiceRate | undefined {
  if (samples.length < 2) return undefined
  const first = samples[0]
  const last = samples[samples.length - 1]
  const seconds = (last.at - first.at) / 1000
  if (seconds <= 0) return undefined
  let requests = 0
  let errors = 0
  let named = false
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]
    const b = samples[i]
    const cb = b.services[service]
    if (cb === undefined) continue
    named = true
    const ca = b.boot === a.boot ? a.services[service] : undefined
    requests += increase(ca?.requests, cb.requests)
    errors += increase(ca?.errors, cb.errors)
  }
  if (!named) return undefined
  return { requestsPerSec: requests / seconds, errorsPerSec: errors / seconds, renderers: 1, at: last.at, requests, errors }
}

/** A counter's increase from `before` to `after`; no `before`, or a drop, is a restart from 0. */
export function increase (before: number | undefined, after: number): number {
  return before === undefined || after < before ? after : after - before
}

function add (a: ServiceRate, b: ServiceRate): ServiceRate {
  return {
    requestsPerSec: a.requestsPerSec + b.requestsPerSec,
    errorsPerSec: a.errorsPerSec + b.errorsPerSec,
    renderers: a.renderers + b.renderers,
    at: Math.max(a.at, b.at),
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
  }
}
