// One other site as this registry sees it: read-only KvTables over the local
// mirrors of its endpoint and host buckets, and the mirrors' own report of
// the link, polled. Nothing is ever written to a mirror (JetStream refuses
// writes to one anyway), so nothing of another site can change local state.
import type { JetStreamManager, NatsConnection } from 'nats'
import { checkEndpointRecord, checkHostRecord, type EndpointRecord, type HostRecord, type Logger } from '../../core/index.js'
import { KvTable, REMOTE_TABLES, mirrorState, openRemoteMirror, type MirrorState, type RemoteTable } from '../../bus/index.js'

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
  hosts?: KvTable<HostRecord>
  readonly states = new Map<RemoteTable, MirrorState>()
  private pollError = false

  constructor (private readonly opts: RemoteSiteOptions) {}

  get site (): string { return this.opts.site }

  async start (): Promise<void> {
    const o = this.opts
    // Creating a mirror is local: it works while the link is down, and
    // JetStream starts copying once the other site answers.
    const [ekv, hkv] = await Promise.all(REMOTE_TABLES.map(async (t) => await openRemoteMirror(o.nc, o.local, o.site, t, { prefix: o.prefix, replicas: o.replicas })))
    this.endpoints = new KvTable<EndpointRecord>({ kv: ekv, log: o.log, decode: valid(checkEndpointRecord), onInvalid: (_k, r) => o.onInvalid('endpoints', r) })
    this.hosts = new KvTable<HostRecord>({ kv: hkv, log: o.log, decode: valid(checkHostRecord), onInvalid: (_k, r) => o.onInvalid('hosts', r) })
    await Promise.all([this.endpoints.start(), this.hosts.start()])
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

  stateList (): Array<MirrorState | undefined> { return REMOTE_TABLES.map((t) => this.states.get(t)) }

  async close (): Promise<void> {
    await Promise.all([this.endpoints?.close(), this.hosts?.close()])
  }
}
