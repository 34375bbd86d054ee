// GET /v1/events?since=<cursor>&limit=<n>&service=<name>&wait=<duration>:
// the activity feed from its JetStream stream. Without `since`, the last
// `limit` events; `next` is the cursor to pass back. With `wait`, a request
// that would come back empty parks until the next event (woken by a core
// subscription to the stream's subjects, no polling) or the wait ends.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { NatsConnection } from 'nats'
import { DNS_LABEL_PATTERN, DURATION_PATTERN, parseDuration, type Logger } from '../../core/index.js'
import { allActivity, readActivity } from '../../bus/index.js'

export interface ActivityRoutesOptions { nc: NatsConnection, log: Logger, prefix?: string }

const MAX_WAIT_MS = 60_000
/** Parked feed requests per registry; past it a request answers at once (empty) instead of parking. */
const MAX_WAITERS = 1000

const querystring = {
  type: 'object',
  properties: {
    since: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
    service: { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 },
    wait: { type: 'string', pattern: DURATION_PATTERN, maxLength: 32 },
  },
  additionalProperties: false,
} as const

interface Query { since?: number, limit: number, service?: string, wait?: string }

export function activityRoutes (opts: ActivityRoutesOptions): FastifyPluginAsync {
  return async function (app: FastifyInstance): Promise<void> {
    const waiters = new Set<() => void>()
    // Bumped per message: a request that read the stream before an event and parks after it must not sleep through it.
    let heard = 0
    const sub = opts.nc.subscribe(allActivity(opts.prefix), {
      callback: () => { heard++; for (const w of waiters) w(); waiters.clear() },
    })
    app.addHook('onClose', async () => { sub.unsubscribe(); for (const w of waiters) w(); waiters.clear() })
    const jsm = await opts.nc.jetstreamManager()

    /** False when it could not park (too many parked, or an event came in since `seen`). */
    const park = async (ms: number, signal: AbortSignal, seen: number): Promise<boolean> => {
      if (heard !== seen) return true
      if (waiters.size >= MAX_WAITERS) return false
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(timer); waiters.delete(done); resolve() }
        const timer = setTimeout(done, ms)
        signal.addEventListener('abort', done, { once: true })
        waiters.add(done)
      })
      return true
    }

    app.get<{ Querystring: Query }>('/v1/events', { schema: { querystring } }, async (request) => {
      const { since, limit, service, wait } = request.query
      const deadline = Date.now() + Math.min(wait !== undefined ? parseDuration(wait) : 0, MAX_WAIT_MS)
      const closed = new AbortController()
      request.raw.once('close', () => { closed.abort() })
      let cursor = since
      for (;;) {
        const seen = heard
        const page = await readActivity(jsm, cursor, limit)
        const events = service === undefined ? page.events : page.events.filter((e) => e.service === service)
        const left = deadline - Date.now()
        // Keep reading while a filtered page came back empty but the stream moved on.
        if (events.length > 0 || since === undefined || left <= 0 || closed.signal.aborted) {
          return { events, next: page.next, first: page.first }
        }
        cursor = page.next
        if (page.next >= page.last && !await park(left, closed.signal, seen)) return { events, next: page.next, first: page.first }
      }
    })
  }
}
