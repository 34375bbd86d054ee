// Renderers' stats reports (`<prefix>.stats.renderer.<id>`, core NATS, every
// registry instance hears all of them: no queue group, so each instance
// answers rates on its own). Decoded, schema-checked, and the payload's
// renderer must be the subject's: anything else is refused and counted.
import type { NatsConnection, Subscription } from 'nats'
import { LogOnce, checkRendererStats, type Logger, type RendererStatsMessage } from '../../core/index.js'
import { decodeJson, lastToken, subjects } from '../../bus/index.js'

export type StatsRefusal = 'oversized' | 'not_utf8' | 'not_json' | 'schema' | 'renderer_mismatch' | 'stale'

/** Pure: a message on `subject` → the report, or why it is refused. */
export function parseStatsMessage (subject: string, data: Uint8Array): { ok: true, msg: RendererStatsMessage } | { ok: false, reason: StatsRefusal, detail?: string } {
  const d = decodeJson(data)
  if (!d.ok) return { ok: false, reason: d.reason }
  const problems = checkRendererStats.problems(d.value)
  if (problems !== null) return { ok: false, reason: 'schema', detail: problems.slice(0, 3).map((p) => `${p.field} ${p.message}`).join('; ') }
  const msg = d.value as RendererStatsMessage
  const id = lastToken(subject)
  if (msg.renderer !== id) return { ok: false, reason: 'renderer_mismatch', detail: `subject renderer ${id}, payload renderer ${msg.renderer}` }
  return { ok: true, msg }
}

export interface StatsSubscriberOptions {
  nc: NatsConnection
  prefix?: string
  log: Logger
  /** An accepted report; returns 'stale' for one not newer than the renderer's last. */
  accept: (msg: RendererStatsMessage) => 'ok' | 'stale'
  refused: (reason: StatsRefusal) => void
}

export function subscribeStats (opts: StatsSubscriberOptions): { close: () => void } {
  const once = new LogOnce(opts.log)
  const sub: Subscription = opts.nc.subscribe(subjects(opts.prefix).allRendererStats, {
    callback: (err, m) => {
      if (err !== null) { once.warn('stats-sub', { err: err.message }, 'stats subscription error'); return }
      const p = parseStatsMessage(m.subject, m.data)
      if (!p.ok) {
        opts.refused(p.reason)
        once.warn(`stats:${p.reason}`, { subject: m.subject, detail: p.detail }, 'renderer stats report refused')
        return
      }
      if (opts.accept(p.msg) === 'stale') opts.refused('stale')
    },
  })
  return { close: () => { sub.unsubscribe() } }
}
