// GET /v1/services/:name/logs: the service's lines from DRIFTGATE_LOGS,
// every replica merged by Docker's timestamp, as NDJSON (default) or
// server-sent events (`Accept: text/event-stream`). `follow=true` keeps the
// response open with lines as agents ship them. Read through an
// ephemeral consumer filtered by the service's subjects from a start time,
// so lines of removed containers are listed until the stream's limits drop them.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { JsMsg, NatsConnection } from 'nats'
import { DNS_LABEL_PATTERN, ValidationError, durationMs, sortByTime, type LogEntry } from '../../../core/index.js'
import { decodeJson, openLogReader, subjects as makeSubjects } from '../../../bus/index.js'
import { nameParams } from './shapes.js'
import { errorSchema } from '../errors.js'

/** Most lines one non-follow answer holds (the newest are kept); `tail` asks for fewer. */
export const MAX_LOG_LINES = 100_000

export interface LogsQuery { since?: string, tail?: number, host?: string, replica?: number, stream?: 'stdout' | 'stderr', follow?: boolean }

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { type: 'string', maxLength: 40 },
    tail: { type: 'integer', minimum: 0, maximum: MAX_LOG_LINES },
    host: { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 },
    replica: { type: 'integer', minimum: 0, maximum: 100000 },
    stream: { type: 'string', enum: ['stdout', 'stderr'] },
    follow: { type: 'boolean' },
  },
} as const

/** `10m` back from now, or an RFC3339 time; undefined for "from the start". */
export function startTime (since: string | undefined, now = Date.now()): Date | undefined {
  if (since === undefined || since === '') return undefined
  const ms = durationMs(since)
  if (ms !== undefined) return new Date(now - ms)
  const t = Date.parse(since)
  if (Number.isNaN(t) || !/^\d{4}-/.test(since)) throw new ValidationError('query', [{ field: 'since', message: `${JSON.stringify(since)} is neither a duration (10m) nor an RFC3339 time` }])
  return new Date(t)
}

interface WireBatch { service: string, replica?: number, host: string, container: string, lines: Array<{ t: string, s: string, m: string }> }

/** The entries of one stored batch that pass the query's filters. */
export function entriesOf (data: Uint8Array, q: LogsQuery): LogEntry[] {
  const d = decodeJson(data)
  if (!d.ok) return []
  const b = d.value as WireBatch
  if (!Array.isArray(b?.lines) || (q.replica !== undefined && b.replica !== q.replica)) return []
  const out: LogEntry[] = []
  for (const l of b.lines) {
    const stream = l.s === 'err' ? 'stderr' : l.s === 'drop' ? 'dropped' : 'stdout'
    if (q.stream !== undefined && stream !== q.stream && stream !== 'dropped') continue
    out.push({ t: l.t, stream, service: b.service, host: b.host, container: b.container, line: l.m, ...(b.replica !== undefined ? { replica: b.replica } : {}) })
  }
  return out
}

function writer (reply: FastifyReply, sse: boolean): (e: LogEntry[]) => void {
  return (entries) => {
    if (entries.length === 0) return
    reply.raw.write(entries.map((e) => sse ? `data: ${JSON.stringify(e)}\n\n` : `${JSON.stringify(e)}\n`).join(''))
  }
}

export function logsRoutes (o: { nc: NatsConnection, prefix?: string }) {
  const subj = makeSubjects(o.prefix)
  return async function (app: FastifyInstance): Promise<void> {
    app.get<{ Params: { name: string }, Querystring: LogsQuery }>('/v1/services/:name/logs', {
      schema: { params: nameParams, querystring: querySchema, response: { '4xx': errorSchema } },
    }, async (request, reply) => {
      const q = request.query
      const start = startTime(q.since)
      const filter = q.host !== undefined ? subj.logs(request.params.name, q.host, '*') : subj.serviceLogs(request.params.name)
      const reader = await openLogReader(o.nc, { filter, startTime: start })
      const pending = reader.pending
      const sse = (request.headers.accept ?? '').includes('text/event-stream')
      reply.hijack()
      reply.raw.writeHead(200, {
        'content-type': sse ? 'text/event-stream' : 'application/x-ndjson',
        'cache-control': 'no-cache',
      })
      const write = writer(reply, sse)
      const limit = Math.min(q.tail ?? MAX_LOG_LINES, MAX_LOG_LINES)
      if (pending === 0 && q.follow !== true) { await reader.close(); reply.raw.end(); return }
      const messages = reader.messages
      const keepalive = sse ? setInterval(() => { reply.raw.write(': keepalive\n\n') }, 15_000) : undefined
      request.raw.on('close', () => { void reader.close() })
      // History first, merged by timestamp; then (follow) each batch as it arrives.
      let history: LogEntry[] | undefined = pending > 0 ? [] : undefined
      const endHistory = (): void => {
        if (history === undefined) return
        if (limit > 0) write(sortByTime(history).slice(-limit))
        history = undefined
      }
      try {
        for await (const m of messages as AsyncIterable<JsMsg>) {
          const entries = entriesOf(m.data, q)
          if (history !== undefined) {
            history.push(...entries)
            // Bounded: keep twice the limit, trim to the newest as we go (entries arrive nearly in order).
            if (history.length > 2 * limit + 10_000) history = sortByTime(history).slice(-limit)
            if (m.info.pending > 0) continue
            endHistory()
            if (q.follow !== true) break
          } else {
            write(sortByTime(entries))
          }
        }
      } finally {
        endHistory()
        if (keepalive !== undefined) clearInterval(keepalive)
        await reader.close()
        reply.raw.end()
      }
    })
  }
}
