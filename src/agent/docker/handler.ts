// Docker event → upsert/remove. Events of one container are handled one after
// the other, in Docker's order (a promise chain per container); inspects of
// different containers run in parallel, a bounded number at a time.
import type Dockerode from 'dockerode'
import PQueue from 'p-queue'
import type { EndpointInfo, Health, Logger } from '../../core/index.js'
import { isContainerId, isDnsLabel, settleWithin } from '../../core/index.js'
import type { DockerEvent } from './events.js'
import { classifyContainer, type Classified, type ContainerInspect } from './endpoint.js'
import { LABEL, type RejectReason } from './labels.js'
import type { AgentMetrics } from '../metrics.js'
import type { MacvlanNetworks } from './networks.js'
import type { Publisher, EventBody } from '../publisher.js'
import type { Reservations } from './reservations.js'
import { Rejections } from './rejections.js'
import type { HealthMonitor } from '../health/monitor.js'
import type { Override, SnapshotBody } from './snapshot.js'

export interface Trace {
  kind: 'upsert' | 'remove'
  cause: string
  containerId: string
  seq: number
  dockerTime: number
  receivedAt: number
  sentAt: number
  /** Time spent waiting for `docker inspect` (0 when none was needed). */
  inspectMs: number
}

export interface HandlerOptions {
  docker: Dockerode
  networks: MacvlanNetworks
  publisher: Publisher
  reservations: Reservations
  metrics: AgentMetrics
  log: Logger
  defaultNetwork?: string
  onTrace?: (t: Trace) => void
  /** A container could not be inspected for a reason other than "gone": heal with a snapshot. */
  onTrouble: (why: string) => void
  /** After a container was inspected and its message (if any) published: the IPAM binder. */
  onInspected?: (c: ContainerInspect) => void
  inspectConcurrency?: number
  /** The agent's own HTTP checks (issue 19): told which containers to check; its verdict is the endpoint's health. */
  health?: HealthMonitor
}

// Signals that end a container; `docker kill -s HUP` does not start a stop.
const TERMINATING = new Set(['2', '3', '9', '15', 'SIGINT', 'SIGQUIT', 'SIGKILL', 'SIGTERM', 'INT', 'QUIT', 'KILL', 'TERM'])
const REMOVED = 'removed' as const

interface Announced { fp: string, endpoint: EndpointInfo }

interface Ctx { id: string, cause: string, time: number, receivedAt: number, inspectMs: number }

/** What one container's chain works on: a Docker event, or a planned stop the reconciler asked for. */
type Work = { kind: 'event', event: DockerEvent } | { kind: 'drain', service: string } | { kind: 'health' }

export class EventHandler {
  /** What was last announced per container: the endpoint (and its fingerprint), or 'removed'. */
  private readonly announced = new Map<string, Announced | typeof REMOVED>()
  /** Service per container (null: known to have no valid service label). */
  private readonly labelled = new Map<string, string | null>()
  readonly draining = new Set<string>()
  private readonly rejections: Rejections
  private readonly chains = new Map<string, Promise<void>>()
  private readonly inspects: PQueue
  private recorder?: Map<string, Override>
  private closed = false

  constructor (private readonly o: HandlerOptions) {
    this.inspects = new PQueue({ concurrency: o.inspectConcurrency ?? 8 })
    this.rejections = new Rejections(o.metrics, o.log)
  }

  onEvent (ev: DockerEvent, receivedAt: number): void {
    if (this.closed) return
    const action = ev.Action.split(':')[0].trim()
    this.o.metrics.eventsSeen.inc({ action })
    const attrs = ev.Actor.Attributes ?? {}
    let id = ev.Actor.ID
    if (ev.Type === 'network') {
      id = attrs.container ?? ''
      if (attrs.type !== undefined) this.o.networks.learn(ev.Actor.ID, attrs.type)
      // Docker attaches networks while it starts a container, and an inspect
      // then blocks until the start is over: leave those to the start event.
      if (!this.o.reservations.isRunning(id)) return
    } else if (ev.Type === 'container') {
      // Container events carry the container's labels in their attributes.
      const service = attrs[LABEL.service]
      if (service === undefined) this.labelled.set(id, null)
      else if (isDnsLabel(service)) this.labelled.set(id, service)
      else {
        this.labelled.set(id, null)
        if (action === 'start') {
          this.noteRejected(id, 'invalid_service', `label ${LABEL.service}=${JSON.stringify(String(service).slice(0, 80))} is not a DNS label`)
        }
      }
      if (action === 'start') this.o.reservations.started(id)
      if (action === 'die' || action === 'destroy') this.o.reservations.stopped(id)
    } else return
    if (id === '') return
    const time = typeof ev.timeNano === 'number' ? ev.timeNano / 1e6 : (ev.time ?? 0) * 1000
    void this.enqueue({ id, cause: action, time, receivedAt, inspectMs: 0 }, { kind: 'event', event: ev })
  }

  /**
   * A planned stop (the reconciler, before it stops a replica): publishes the
   * endpoint as `draining` through the normal path, so its sequence number
   * orders it with the container's Docker events (the mark itself is made in
   * that order too, so an earlier start cannot undo it). Snapshots keep it draining
   * while the container runs; its die or destroy removes it. Resolves once
   * the upsert is handed to NATS (or nothing was to be published).
   */
  async markDraining (containerId: string, service: string): Promise<void> {
    if (this.closed) return
    if (!isContainerId(containerId) || !isDnsLabel(service)) {
      this.o.log.warn({ containerId: String(containerId).slice(0, 80), service: String(service).slice(0, 80) }, 'markDraining: not a container id and service name; ignored')
      return
    }
    const now = Date.now()
    await this.enqueue({ id: containerId, cause: 'drain', time: now, receivedAt: performance.timeOrigin + performance.now(), inspectMs: 0 }, { kind: 'drain', service })
  }

  /** The agent's own check's verdict for a container, if it checks it. */
  readonly healthOf = (id: string): Health | undefined => this.o.health?.healthOf(id)

  /**
   * The agent's own check changed a container's health: publishes the
   * announced endpoint with it through the normal path (ordered with the
   * container's Docker events; no inspect needed).
   */
  healthChanged (containerId: string): void {
    if (this.closed || !isContainerId(containerId)) return
    void this.enqueue({ id: containerId, cause: 'health', time: Date.now(), receivedAt: performance.timeOrigin + performance.now(), inspectMs: 0 }, { kind: 'health' })
  }

  /** Runs after the container's earlier events: one promise chain per container. */
  private async enqueue (ctx: Ctx, work: Work): Promise<void> {
    const { id, cause } = ctx
    const prev = this.chains.get(id) ?? Promise.resolve()
    const next = prev.then(async () => { await this.handle(ctx, work) }).catch((err: Error) => {
      this.o.log.error({ containerId: id, action: cause, err: err.message }, 'event handling failed')
      this.o.onTrouble('event handling failed')
    })
    this.chains.set(id, next)
    void next.finally(() => { if (this.chains.get(id) === next) this.chains.delete(id) })
    await next
  }

  private async handle (ctx: Ctx, work: Work): Promise<void> {
    if (this.closed) return
    const { id, cause } = ctx
    const known = this.labelled.get(id)
    if (known === null) { // unlabelled (or invalid service): nothing to publish, ever
      if (cause === 'destroy') this.forget(id)
      return
    }
    if (work.kind === 'health') { this.healthAnnounced(ctx); return }
    const attrs = work.kind === 'event' ? work.event.Actor.Attributes ?? {} : { [LABEL.service]: work.service }
    switch (cause) {
      case 'die':
        this.draining.delete(id)
        this.remove(ctx, known ?? attrs[LABEL.service], false)
        return
      case 'destroy':
        this.draining.delete(id)
        this.remove(ctx, known ?? attrs[LABEL.service], true)
        this.forget(id)
        return
      case 'drain': // a planned stop: drains like a stop that has begun
        if (this.announced.get(id) === REMOVED) return // stopped meanwhile: its removal is out already
        if (this.drainAnnounced(ctx)) return
        break
      case 'kill':
      case 'stop':
        if (cause === 'kill' && !TERMINATING.has(attrs.signal ?? '')) break
        if (this.drainAnnounced(ctx)) return
        break
      case 'start':
        this.draining.delete(id)
        break
    }
    await this.inspectAndPublish(ctx)
  }

  /**
   * Marks the container draining and, when it was announced, publishes that
   * at once from what was announced: the container may be dead before an
   * inspect could answer, and draining is what matters now.
   */
  private drainAnnounced (ctx: Ctx): boolean {
    this.draining.add(ctx.id)
    const last = this.announced.get(ctx.id)
    if (last === undefined || last === REMOVED) return false
    this.upsert(ctx, { ...last.endpoint, state: last.endpoint.state === 'paused' ? 'paused' : 'draining' })
    return true
  }

  private healthAnnounced (ctx: Ctx): void {
    const last = this.announced.get(ctx.id)
    const health = this.healthOf(ctx.id)
    if (last === undefined || last === REMOVED || health === undefined || last.endpoint.health === health) return
    this.upsert(ctx, { ...last.endpoint, health })
  }

  private async inspectAndPublish (ctx: Ctx): Promise<void> {
    let c: ContainerInspect
    const began = performance.now()
    try {
      c = await this.inspects.add(async () => await this.o.docker.getContainer(ctx.id).inspect()) as unknown as ContainerInspect
      ctx.inspectMs = performance.now() - began
    } catch (err) {
      const e = err as { statusCode?: number, message: string }
      if (e.statusCode === 404) { this.remove(ctx, this.labelled.get(ctx.id) ?? undefined, true); this.forget(ctx.id); return }
      this.o.log.warn({ containerId: ctx.id, err: e.message }, 'inspect failed; a snapshot will heal it')
      this.o.onTrouble('inspect failed')
      return
    }
    this.o.reservations.seen(c)
    const macvlan = await this.o.networks.macvlanOf(c.NetworkSettings?.Networks)
    const r = classifyContainer(c, { macvlan, defaultNetwork: this.o.defaultNetwork, draining: this.draining.has(ctx.id), healthOf: this.healthOf })
    const startedAt = Date.parse(c.State?.StartedAt ?? '')
    try { this.classified(ctx, r, Number.isFinite(startedAt) ? startedAt : undefined) } finally { this.o.onInspected?.(c) }
  }

  private classified (ctx: Ctx, r: Classified, startedAt?: number): void {
    switch (r.kind) {
      case 'unlabelled': this.labelled.set(ctx.id, null); return
      case 'endpoint':
        this.labelled.set(ctx.id, r.endpoint.service)
        this.o.health?.observe(ctx.id, r.endpoint.ip, r.endpoint.port, r.check, startedAt)
        this.upsert(ctx, r.endpoint)
        return
      case 'stopped': this.labelled.set(ctx.id, r.service); this.remove(ctx, r.service, false); return
      case 'rejected':
        this.noteRejected(ctx.id, r.reason, r.message)
        if (r.service === undefined) { this.labelled.set(ctx.id, null); return }
        this.labelled.set(ctx.id, r.service)
        this.remove(ctx, r.service, false) // e.g. disconnected from its MacVLAN network: no longer routable
    }
  }

  private upsert (ctx: Ctx, endpoint: EndpointInfo): void {
    this.recorder?.set(ctx.id, { kind: 'upsert', endpoint })
    const fp = JSON.stringify(endpoint)
    const last = this.announced.get(ctx.id)
    if (last !== undefined && last !== REMOVED && last.fp === fp) return // nothing new: no duplicate
    this.announced.set(ctx.id, { fp, endpoint })
    this.publish(ctx, { kind: 'upsert', endpoint })
  }

  private remove (ctx: Ctx, service: string | undefined, destroyed: boolean): void {
    this.recorder?.set(ctx.id, { kind: 'remove', destroyed })
    this.o.health?.forget(ctx.id)
    const prev = this.announced.get(ctx.id)
    if (prev === undefined || prev === REMOVED || service === undefined || !isDnsLabel(service)) return
    this.announced.set(ctx.id, REMOVED)
    this.publish(ctx, { kind: 'remove', endpoint: { service, containerId: ctx.id } })
  }

  private publish (ctx: Ctx, body: EventBody): void {
    const { seq, sentAt } = this.o.publisher.publishEvent(body, ctx.time, ctx.cause)
    this.o.metrics.handling.observe((sentAt - ctx.receivedAt) / 1000)
    this.o.onTrace?.({ kind: body.kind, cause: ctx.cause, containerId: ctx.id, seq, dockerTime: ctx.time, receivedAt: ctx.receivedAt, sentAt, inspectMs: ctx.inspectMs })
  }

  noteRejected (id: string, reason: RejectReason, message: string): void { this.rejections.note(id, reason, message) }

  private forget (id: string): void {
    this.announced.delete(id)
    this.labelled.delete(id)
    this.rejections.forget(id)
    this.draining.delete(id)
    this.o.health?.forget(id)
  }

  /** Records what events decide from now on, for the snapshot being built. */
  startRecording (): void { this.recorder = new Map() }
  stopRecording (): Map<string, Override> {
    const r = this.recorder ?? new Map<string, Override>()
    this.recorder = undefined
    return r
  }

  /** After a snapshot: it is now what the registry believes. */
  adoptSnapshot (body: SnapshotBody): void {
    const inSnap = new Map(body.endpoints.map((e) => [e.containerId, { fp: JSON.stringify(e), endpoint: e }]))
    const exists = new Set(body.containers)
    for (const id of this.announced.keys()) {
      if (!inSnap.has(id)) {
        if (exists.has(id)) this.announced.set(id, REMOVED)
        else this.forget(id)
      }
    }
    for (const [id, a] of inSnap) this.announced.set(id, a)
    for (const [id, service] of body.labelled) this.labelled.set(id, service)
    for (const r of body.rejected) this.noteRejected(r.containerId, r.reason, r.message)
    if (this.o.health !== undefined && body.checks !== undefined) {
      for (const { endpoint: e, check, startedAt } of body.checks) this.o.health.observe(e.containerId, e.ip, e.port, check, startedAt)
      // The endpoints after the events laid over the list: one started meanwhile stays checked.
      this.o.health.retain(new Set(body.endpoints.map((e) => e.containerId)))
    }
  }

  async close (timeoutMs = 2000): Promise<void> {
    this.closed = true
    this.inspects.clear()
    await settleWithin(this.chains.values(), timeoutMs)
  }
}
