// Feeds the activity stream from what every registry instance already sees:
// changes of the endpoints, hosts, assignments (placement decisions) and
// services buckets, and renderers' applied announcements. Every instance
// publishes; the message id (bucket, key, revision) makes JetStream keep one
// copy, so no leader is needed and no instance must be up for a fact to land.
import type { KV, NatsConnection, Subscription } from 'nats'
import {
  checkApplied, checkAssignmentRecord, checkEndpointRecord, checkHostRecord, checkServiceRecord,
  type AppliedMessage, type AssignmentRecord, type EndpointRecord, type HostRecord, type Logger, type ServiceRecord,
} from '../../core/index.js'
import { KvTable, activitySubject, decodeJson, encodeJson, ensureActivityStream, publishActivity, retrying, subjects, type ActivityEvent, type TableChange } from '../../bus/index.js'
import type { JsWriter } from '../js-writer.js'
import { appliedEvent, assignmentEvent, endpointEvent, hostEvent, ipamEvent, specEvent } from './describe.js'

export interface ActivityPublisherOptions {
  nc: NatsConnection
  kv: { endpoints: KV, hosts: KV, assignments: KV, services: KV, ipam: KV }
  log: Logger
  prefix?: string
  replicas?: number
  now?: () => number
  /** Started mirrors of endpoints and hosts to listen to instead of watching those buckets again (not closed here). */
  tables?: { endpoints: KvTable<EndpointRecord>, hosts: KvTable<HostRecord> }
  /** Publish through this pipelined writer (the registry's; not closed here) instead of js.publish(). */
  writer?: JsWriter
}

/** One activity line in this many, through the registry's writer, waits for the stream's answer. */
export const ANSWER_EVERY = 64

const valid = <T>(check: { problems: (v: unknown) => unknown }) => (v: unknown): T | null => (check.problems(v) === null ? v as T : null)

export async function startActivityPublisher (opts: ActivityPublisherOptions): Promise<{ close: () => Promise<void> }> {
  const { nc, log } = opts
  const now = opts.now ?? Date.now
  await retrying('activity_stream', async () => { await ensureActivityStream(await nc.jetstreamManager(), { replicas: opts.replicas, prefix: opts.prefix }) }, { log })
  // The registry's writer skips js.publish()'s per-call machinery (one line per endpoint change is on the ingest path).
  const sink = opts.writer ?? nc.jetstream()
  let failures = 0
  let lines = 0
  const failed = (err: unknown): void => {
    // The feed is for people: a lost line is logged (once per 100), never retried into a storm.
    if (failures++ % 100 === 0) log.warn({ err, failures }, 'activity event not published')
  }
  const send = (event: ActivityEvent | null, id: string): void => {
    if (event === null) return
    // Through the registry's writer, only one line in ANSWER_EVERY waits for
    // the stream's answer (a missing or failing stream is still logged within
    // that many lines); the others are published without a reply: one
    // message fewer per endpoint change for the registry and nats-server.
    if (opts.writer != null && (lines++ % ANSWER_EVERY) !== 0) {
      try { opts.writer.fire(activitySubject(opts.prefix, event.kind), encodeJson(event), { msgID: id }) } catch (err) { failed(err) }
      return
    }
    publishActivity(sink, event, id, opts.prefix).catch(failed)
  }
  const own = {
    ...(opts.tables == null
      ? {
          endpoints: new KvTable<EndpointRecord>({ kv: opts.kv.endpoints, log, decode: valid(checkEndpointRecord) }),
          hosts: new KvTable<HostRecord>({ kv: opts.kv.hosts, log, decode: valid(checkHostRecord) }),
        }
      : {}),
    assignments: new KvTable<AssignmentRecord>({ kv: opts.kv.assignments, log, decode: valid(checkAssignmentRecord) }),
    services: new KvTable<ServiceRecord>({ kv: opts.kv.services, log, decode: valid(checkServiceRecord) }),
    // Only looked at for a pool's existence and an address's state: no schema needed here.
    ipam: new KvTable<unknown>({ kv: opts.kv.ipam, log, decode: (v) => v }),
  }
  await Promise.all(Object.values(own).map(async (t) => { await t.start() }))
  const tables = { ...own, ...opts.tables } as typeof own & Required<NonNullable<ActivityPublisherOptions['tables']>>
  // Listeners after the initial load: only changes from now on are activity.
  // With the registry's own mirror, an endpoint change is told by the instance
  // that wrote it only: every instance telling every change made N activity
  // publishes per event (a third of the ingest work at 3 instances). A writer
  // that dies between its write and this publish loses that one line.
  const onlyOwn = opts.tables != null
  const onEndpoint = (c: TableChange<EndpointRecord>): void => {
    if (onlyOwn && c.own !== true) return
    send(endpointEvent(c, now()), `e:${c.key}:${c.revision}`)
  }
  const onHost = (c: TableChange<HostRecord>): void => { send(hostEvent(c, now()), `h:${c.key}:${c.revision}`) }
  tables.endpoints.on('change', onEndpoint)
  tables.hosts.on('change', onHost)
  tables.assignments.on('change', (c: TableChange<AssignmentRecord>) => { send(assignmentEvent(c, now()), `a:${c.key}:${c.revision}`) })
  tables.services.on('change', (c: TableChange<ServiceRecord>) => { send(specEvent(c.key, c, now()), `s:${c.key}:${c.revision}`) })
  tables.ipam.on('change', (c: TableChange<unknown>) => { send(ipamEvent(c.key, c.value, c.previous, now()), `i:${c.key}:${c.revision}`) })

  // A renderer announces every few seconds; only a new generation is news (the first one heard is not).
  const generations = new Map<string, number>()
  const sub: Subscription = nc.subscribe(subjects(opts.prefix).allApplied, {
    callback: (err, msg) => {
      if (err !== null) return
      const d = decodeJson(msg.data)
      if (!d.ok || checkApplied.problems(d.value) !== null) return
      const m = d.value as AppliedMessage
      const before = generations.get(m.renderer)
      generations.set(m.renderer, m.generation)
      if (before !== undefined && before !== m.generation) send(appliedEvent(m, now()), `r:${m.renderer}:${m.generation}:${m.appliedAt}`)
    },
  })
  let closed = false
  return {
    close: async () => {
      if (closed) return
      closed = true
      sub.unsubscribe()
      tables.endpoints.off('change', onEndpoint)
      tables.hosts.off('change', onHost)
      await Promise.all(Object.values(own).map(async (t) => { await t.close() }))
    },
  }
}
