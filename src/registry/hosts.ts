// Host liveness I/O: heartbeats (core NATS, queue group: each handled by one
// instance) update driftgate_hosts with CAS; a periodic sweep, run by every
// instance (CAS makes concurrent sweeps safe), moves silent hosts to suspect
// and down, removes the endpoints of down hosts, and raises the fail-static alarm.
import type { NatsConnection, Subscription } from 'nats'
import { LogOnce, type EndpointRecord, type HostRecord, type Logger } from '../core/index.js'
import type { Subjects } from '../bus/index.js'
import { applyHeartbeat, assessHosts, heartbeatIsNews, type LivenessOptions } from './liveness.js'
import { parseHeartbeat } from './parse.js'
import { KeyedSerializer } from './serializer.js'
import { isCasConflict, type VersionedStore } from './store.js'
import type { EndpointApplier } from './applier.js'
import type { RegistryMetrics } from './metrics.js'

export const HEARTBEAT_QUEUE = 'driftgate-registry'

export interface HostsOptions {
  nc: NatsConnection
  hosts: VersionedStore<HostRecord>
  endpoints: VersionedStore<EndpointRecord>
  applier: EndpointApplier
  metrics: RegistryMetrics
  log: Logger
  subjects: Subjects
  liveness: LivenessOptions
  sweepMs: number
  now?: () => number
}

export class HostLiveness {
  private sub?: Subscription
  private timer?: NodeJS.Timeout
  private sweeping?: Promise<void>
  private failStatic = false
  private readonly serializer = new KeyedSerializer()
  private readonly once: LogOnce
  private readonly now: () => number

  constructor (private readonly opts: HostsOptions) {
    this.once = new LogOnce(opts.log)
    this.now = opts.now ?? Date.now
  }

  start (): void {
    const { nc, subjects } = this.opts
    this.sub = nc.subscribe(subjects.allHeartbeats, {
      queue: HEARTBEAT_QUEUE,
      callback: (err, m) => { if (err == null) this.onHeartbeat(m.subject, m.data) },
    })
    this.timer = setInterval(() => { this.tick() }, this.opts.sweepMs)
    this.timer.unref()
  }

  private onHeartbeat (subject: string, data: Uint8Array): void {
    const parsed = parseHeartbeat(subject, data, this.opts.subjects)
    if (!parsed.ok) {
      this.opts.metrics.invalidMessages.inc({ reason: parsed.reason, type: 'heartbeat' })
      this.once.warn(parsed.reason, { subject, detail: parsed.detail }, 'invalid heartbeat dropped')
      return
    }
    const hb = parsed.value
    void this.serializer.run(hb.host, async () => {
      const refreshMs = this.opts.liveness.suspectMs / 2
      await this.casLoop(hb.host, (cur) => {
        const next = applyHeartbeat(cur, hb, this.now())
        if (next != null && !heartbeatIsNews(cur, next, refreshMs)) { this.opts.metrics.heartbeatsCoalesced.inc(); return null }
        return next
      })
    }).catch((err: Error) => { this.opts.log.warn({ host: hb.host, err: err.message }, 'heartbeat not recorded') })
  }

  /** Read-decide-CAS on one host key until it sticks or there is nothing to write. */
  private async casLoop (host: string, next: (cur: HostRecord | null) => HostRecord | null): Promise<boolean> {
    const store = this.opts.hosts
    let cur = store.get(host)
    for (let attempt = 1; attempt <= 10; attempt++) {
      const rec = next(cur?.value ?? null)
      if (rec == null) return false
      try {
        await store.write(host, rec, cur?.revision ?? 0)
        return true
      } catch (err) {
        if (!isCasConflict(err)) throw err
        this.opts.metrics.writeConflicts.inc()
        cur = await store.refresh(host)
      }
    }
    return false
  }

  private tick (): void {
    if (this.sweeping != null) return // the previous sweep is still writing
    this.sweeping = this.sweep()
      .catch((err: Error) => { this.opts.log.warn({ err: err.message }, 'liveness sweep failed') })
      .finally(() => { this.sweeping = undefined })
  }

  /** One sweep; exported through the class for tests that drive time themselves. */
  async sweep (): Promise<void> {
    const { hosts, log, metrics } = this.opts
    const a = assessHosts(hosts.values(), this.now(), this.opts.liveness)
    this.setFailStatic(a.failStatic, a.silent, a.known)
    for (const change of a.changes) {
      // Re-check against the newest record inside the CAS: a heartbeat may have just landed.
      await this.serializer.run(change.host, async () => {
        const wrote = await this.casLoop(change.host, (cur) => {
          if (cur == null || cur.lastSeen !== change.lastSeen || cur.status === change.status) return null
          return { ...cur, status: change.status, since: change.since }
        })
        if (wrote) log.warn({ host: change.host, status: change.status, lastSeen: new Date(change.lastSeen).toISOString() }, 'host status changed')
      })
    }
    for (const h of hosts.values()) if (h.status === 'down') await this.removeEndpointsOf(h)
    metrics.failStatic.set(this.failStatic ? 1 : 0)
  }

  // Idempotent, so an instance that died halfway is finished by the next sweep.
  // Only records written before the host went down: anything newer is fresh news.
  private async removeEndpointsOf (h: HostRecord): Promise<void> {
    const { endpoints, applier } = this.opts
    const doomed: Array<Promise<unknown>> = []
    for (const key of endpoints.keysFor(h.host)) {
      const rec = endpoints.get(key)?.value
      if (rec == null || rec.removed === true || rec.updatedAt > h.since) continue
      doomed.push(applier.apply({
        kind: 'remove', source: 'liveness', host: rec.host, instance: rec.instance, seq: rec.seq,
        service: rec.service, containerId: rec.containerId,
      }))
    }
    if (doomed.length > 0) {
      await Promise.all(doomed)
      this.opts.log.warn({ host: h.host, endpoints: doomed.length }, 'host down: its endpoints left the table')
    }
  }

  private setFailStatic (on: boolean, silent: string[], known: number): void {
    if (on === this.failStatic) return
    this.failStatic = on
    if (on) this.opts.log.error({ silent, known }, 'FAIL STATIC: most hosts went silent at once; keeping every endpoint until they return')
    else this.opts.log.warn({ known }, 'fail static over: hosts are back')
  }

  get isFailStatic (): boolean { return this.failStatic }

  async close (): Promise<void> {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = undefined
    this.sub?.unsubscribe()
    this.sub = undefined
    await this.sweeping
    await this.serializer.idle()
  }
}
