// One other site as this registry sees it: read-only KvTables over the local
// mirrors of its endpoint and host buckets, and the mirrors' own report of
// the link, polled. Nothing is ever written to a mirror (JetStream refuses
// writes to one anyway), so nothing of another site can change local state.
import type { JetStreamManager, NatsConnection } from 'nats'
import { checkEndpointRecord, checkSiteSummary, type EndpointRecord, type Logger, type SiteSummary } from '../../core/index.js'
import { KvTable, REMOTE_TABLES, mirrorState, openRemoteMirror, retrying, type MirrorState, type RemoteTable, type TableChange } from '../../bus/index.js'
import { freshest, type HeardSummary } from './summary.js'

export interface RemoteSiteOptions {
  nc: NatsConnection
  jsm: JetStreamManager
  local: string
  site: string
  prefix: string
  replicas: number
  log: Logger
  onInvalid: (table: RemoteTable, reason: string) => void
}

const valid = <T>(check: { problems: (v: unknown) => unknown }) => (v: unknown): T | null => (check.problems(v) === null ? v as T : null)

export class RemoteSite {
  endpoints?: KvTable<EndpointRecord>
  summaries?: KvTable<SiteSummary>
  /** When each summary key last changed, by this process's clock (skew-free freshness). */
  private readonly heardAt = new Map<string, number>()
  /** When this process started watching the site (its clock). */
  startedAt = Date.now()
  readonly states = new Map<RemoteTable, MirrorState>()
  private pollError = false

  constructor (private readonly opts: RemoteSiteOptions) {}

  get site (): string { return this.opts.site }

  async start (): Promise<void> {
    const o = this.opts
    // Creating a mirror is local: it works while the link is down, and
    // JetStream starts copying once the other site answers.
    // Retried like the registry's own start steps: under a saturated cluster
    // the stream create times out, and one TIMEOUT must not exit the registry.
    const [ekv, skv] = await Promise.all(REMOTE_TABLES.map(async (t) => await retrying(`mirror ${o.site} ${t}`,
      async () => await openRemoteMirror(o.nc, o.local, o.site, t, { prefix: o.prefix, replicas: o.replicas }), { log: o.log })))
    this.endpoints = new KvTable<EndpointRecord>({ kv: ekv, log: o.log, decode: valid(checkEndpointRecord), onInvalid: (_k, r) => o.onInvalid('endpoints', r) })
    this.summaries = new KvTable<SiteSummary>({ kv: skv, log: o.log, decode: valid(checkSiteSummary), onInvalid: (_k, r) => o.onInvalid('site', r) })
    // A summary that changes while we watch was just written there. The ones
    // loaded at start were not heard (their age is unknown): silence then
    // counts from startedAt, so a registry just started never judges the
    // other site lost before a full grace, nor heard on old news.
    this.summaries.on('change', (c: TableChange<SiteSummary>) => {
      if (c.value === undefined) this.heardAt.delete(c.key)
      else this.heardAt.set(c.key, Date.now())
    })
    this.startedAt = Date.now()
    await Promise.all([this.endpoints.start(), this.summaries.start()])
    await this.poll()
  }

  /** Reads both mirrors' state; a failed read leaves the state unknown for this round. */
  async poll (): Promise<void> {
    for (const t of REMOTE_TABLES) {
      try {
        this.states.set(t, await mirrorState(this.opts.jsm, this.opts.site, t))
        this.pollError = false
      } catch (err) {
        this.states.delete(t)
        if (!this.pollError) this.opts.log.warn({ err, site: this.opts.site, table: t }, 'reading a remote mirror\'s state failed')
        this.pollError = true
      }
    }
  }

  /** The freshest summary of this site and when it was heard (local clock); undefined when none. */
  summary (): HeardSummary | undefined {
    const heard: HeardSummary[] = []
    for (const [k, summary] of this.summaries?.entries ?? []) heard.push({ summary, heardAt: this.heardAt.get(k) ?? null })
    return freshest(heard)
  }

  stateList (): Array<MirrorState | undefined> { return REMOTE_TABLES.map((t) => this.states.get(t)) }

  async close (): Promise<void> {
    await Promise.all([this.endpoints?.close(), this.summaries?.close()])
  }
}
