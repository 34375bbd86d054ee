// Runs this host's assignments. Each pass lists the managed containers, plans
// (plan.ts) and acts: creates and starts at once; removals drain first
// (endpoint marked draining, then wait until no live renderer routes it, or a
// timeout) and stop with the spec's grace period, in the background so a slow
// drain never delays a create; rolling replacements one at a time.
import type Dockerode from 'dockerode'
import type { Health, Logger, ServiceSpec } from '../../core/index.js'
import { specGraceMs, specHash } from '../../core/index.js'
import type { AppliedTracker } from './applied.js'
import { plan, type Action, type HostAssignment } from './plan.js'
import type { ContainerDns, ManagedContainer } from './container-spec.js'
import { createAndStart, isReady, listManaged, networkRefusal, startContainer, stopAndRemove } from './docker-ops.js'
import type { ReconcilerMetrics } from './metrics.js'
import { setTimeout as sleep } from 'node:timers/promises'

/** How the reconciler announces a planned stop: the agent publishes the endpoint as `draining`. */
export interface DrainPublisher { markDraining: (containerId: string, service: string) => Promise<void> | void }

export interface ReconcilerTimings {
  intervalMs: number
  drainTimeoutMs: number
  readyTimeoutMs: number
  /** No drain before renderers had time to announce themselves after start. */
  warmupMs: number
  /**
   * Wait after every renderer applied a config without the container: nginx's
   * old workers still finish requests (and keep-alive connections) with the
   * old config for a moment after a reload.
   */
  settleMs: number
}

export interface ReconcilerCoreOptions {
  docker: Dockerode
  log: Logger
  metrics: ReconcilerMetrics
  tracker: AppliedTracker
  publisher?: DrainPublisher
  /** This host's assignments with their specs, as of now. */
  assignments: () => HostAssignment[]
  timings: ReconcilerTimings
  /** The resolver of a new replica (the agent's DNS stub), or undefined for Docker's default. */
  containerDns?: (spec: ServiceSpec) => Promise<ContainerDns | undefined>
  /** The agent's own health verdict (issue 19): a replica it checks is ready once healthy. */
  healthOf?: (containerId: string) => Health | undefined
}


export class Reconciler {
  private timer?: NodeJS.Timeout
  private debounce?: NodeJS.Timeout
  private running?: Promise<void>
  private again = false
  private closed = false
  private replacing = false
  /** Containers being drained/stopped in the background: not planned for again meanwhile. */
  private readonly removing = new Set<string>()
  private readonly tasks = new Set<Promise<void>>()
  private warnedNoPublisher = false

  constructor (private readonly o: ReconcilerCoreOptions) {}

  start (): void {
    this.timer = setInterval(() => { this.trigger() }, this.o.timings.intervalMs)
    this.timer.unref()
    this.trigger()
  }

  trigger (delayMs = 50): void {
    if (this.closed || this.debounce !== undefined) return
    this.debounce = setTimeout(() => {
      this.debounce = undefined
      if (this.running !== undefined) { this.again = true; return }
      this.running = this.pass()
        .catch((err: Error) => {
          this.o.metrics.errors.inc()
          this.o.log.warn({ err: err.message }, 'reconcile pass failed; retrying')
          this.again = true
        })
        .finally(() => {
          this.running = undefined
          if (this.again) { this.again = false; this.trigger(1000) }
        })
    }, delayMs)
  }

  private async pass (): Promise<void> {
    const containers = (await listManaged(this.o.docker)).filter((c) => !this.removing.has(c.id))
    this.o.metrics.managed.set(containers.length)
    const assignments = await this.refuseForeignNetworks(this.o.assignments())
    for (const a of assignments) if (a.spec !== null) this.lastSpec.set(a.service, a.spec)
    const actions = plan(assignments, containers)
    if (actions.length === 0 || this.closed) return
    this.o.log.debug({ actions: actions.map(describe) }, 'reconcile')
    const removals = actions.filter((a): a is Extract<Action, { kind: 'remove' }> => a.kind === 'remove')
    if (removals.length > 0) this.background(this.removeAll(removals.map((r) => r.container), 'reconcile'))
    await Promise.all(actions.map(async (a) => {
      if (a.kind === 'create') await this.create(a.spec, a.replica, a.specHash, a.incarnation)
      else if (a.kind === 'start') { await startContainer(this.o.docker, a.container.id); this.count('start') }
    }))
    const replace = actions.find((a): a is Extract<Action, { kind: 'replace' }> => a.kind === 'replace')
    if (replace !== undefined && !this.replacing) {
      this.replacing = true
      this.background(this.replace(replace).finally(() => { this.replacing = false; this.trigger() }))
    }
  }

  /**
   * A replica runs only on a MacVLAN network (a spec written straight into KV
   * could name `bridge` or a network of another driver). Such an assignment
   * is planned as if its spec had not arrived: nothing is created, replaced
   * or removed for it. Logged and counted once per replica and spec.
   */
  private async refuseForeignNetworks (assignments: HostAssignment[]): Promise<HostAssignment[]> {
    const verdicts = new Map<string, Promise<string | null>>()
    const refusedNow = new Set<string>()
    const out = await Promise.all(assignments.map(async (a) => {
      if (a.spec === null) return a
      const net = a.spec.network
      if (!verdicts.has(net)) verdicts.set(net, networkRefusal(this.o.docker, net))
      const reason = await verdicts.get(net)!
      if (reason === null) return a
      const key = `${a.service}.${a.replica}@${a.specHash}`
      refusedNow.add(key)
      if (!this.refused.has(key)) {
        this.o.metrics.refused.inc({ reason })
        this.o.log.warn({ service: a.service, replica: a.replica, network: net, reason }, 'replica not started: its network is not a MacVLAN network on this host')
      }
      return { ...a, spec: null }
    }))
    this.refused = refusedNow
    return out
  }

  private refused = new Set<string>()

  private background (p: Promise<void>): void {
    const task = p.catch((err: Error) => {
      this.o.metrics.errors.inc()
      this.o.log.warn({ err: err.message }, 'reconcile task failed; the next pass retries')
    })
    this.tasks.add(task)
    void task.finally(() => this.tasks.delete(task))
  }

  private count (action: string): void { this.o.metrics.actions.inc({ action }) }

  private async create (spec: ServiceSpec, replica: number, hash: string, incarnation: number): Promise<string> {
    const id = await createAndStart(this.o.docker, spec, replica, hash, this.o.log, incarnation, await this.o.containerDns?.(spec))
    this.count('create')
    this.o.log.info({ service: spec.name, replica, specHash: hash, incarnation, containerId: id }, 'replica started')
    return id
  }

  /** Rolling replacement of one replica: start new, wait ready and routed, drain old, stop old. */
  private async replace (a: Extract<Action, { kind: 'replace' }>): Promise<void> {
    const { docker, timings, tracker, log } = this.o
    let id = a.current?.id
    if (id === undefined) id = await this.create(a.spec, a.replica, a.specHash, a.incarnation)
    else if (a.current?.running !== true) await startContainer(docker, id)
    const deadline = Date.now() + timings.readyTimeoutMs
    const newId = id
    // Docker's check (cmd) or, for an HTTP check, the agent's own verdict.
    const agentChecks = a.spec.health?.http !== undefined && this.o.healthOf !== undefined
    const ready = async (): Promise<boolean> => {
      // Until the agent has seen the container start, its check has no verdict: not ready.
      if (agentChecks) return this.o.healthOf?.(newId) === 'healthy'
      return await isReady(docker, newId).catch(() => false)
    }
    while (!(await ready())) {
      if (this.closed) return
      if (Date.now() > deadline) {
        log.warn({ service: a.service, replica: a.replica, containerId: id }, 'new replica not ready in time: keeping the old one serving')
        return
      }
      await sleep(500)
    }
    // Let the renderers pick the new one up before the old one leaves.
    await tracker.until(() => tracker.allHave(newId), timings.drainTimeoutMs)
    if (this.closed) return
    await this.removeAll(a.old, 'replaced')
    this.count('replace')
    log.info({ service: a.service, replica: a.replica, containerId: id, old: a.old.map((c) => c.id.slice(0, 12)) }, 'replica replaced')
  }

  /** Drain (when running) then stop and remove, together: one wait for the whole batch. */
  private async removeAll (cs: ManagedContainer[], why: string): Promise<void> {
    const { docker, tracker, timings, log, publisher, metrics } = this.o
    const fresh = cs.filter((c) => !this.removing.has(c.id))
    if (fresh.length === 0) return
    for (const c of fresh) this.removing.add(c.id)
    try {
      const live = fresh.filter((c) => c.running)
      if (live.length > 0) {
        const t0 = Date.now()
        if (publisher !== undefined) {
          await Promise.all(live.map(async (c) => { await publisher.markDraining(c.id, c.service) }))
          const warm = tracker.startedAt + timings.warmupMs - Date.now()
          if (warm > 0) await sleep(warm)
          const ids = live.map((c) => c.id)
          const drained = await tracker.until(() => tracker.allLack(ids), timings.drainTimeoutMs)
          if (this.closed) return // the agent is stopping: leave the containers, the next run decides
          if (!drained) {
            metrics.drainTimeouts.inc()
            log.warn({ containers: ids.map((i) => i.slice(0, 12)), timeoutMs: timings.drainTimeoutMs }, 'drain timed out: stopping anyway')
          } else if (timings.settleMs > 0) await sleep(timings.settleMs)
          if (this.closed) return
        } else if (!this.warnedNoPublisher) {
          this.warnedNoPublisher = true
          log.warn('no drain publisher wired: replicas are stopped without draining first')
        }
        metrics.drainSeconds.observe((Date.now() - t0) / 1000)
      }
      if (this.closed) return
      const grace = await this.graceOf()
      await Promise.all(fresh.map(async (c) => {
        await stopAndRemove(docker, c.id, grace(c.service))
        this.count('remove')
        log.info({ service: c.service, replica: c.replica, containerId: c.id, why }, 'replica stopped')
      }))
    } finally {
      for (const c of fresh) this.removing.delete(c.id)
    }
  }

  // The spec of a deleted service is gone from the table by the time its
  // replicas stop: remember the last one seen, for its grace period.
  private readonly lastSpec = new Map<string, ServiceSpec>()
  private async graceOf (): Promise<(service: string) => number> {
    for (const a of this.o.assignments()) if (a.spec !== null) this.lastSpec.set(a.service, a.spec)
    return (service) => {
      const s = this.lastSpec.get(service)
      return Math.ceil((s !== undefined ? specGraceMs(s) : 10_000) / 1000)
    }
  }

  /** Idempotent. In-flight drains are abandoned (containers keep running). */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    clearTimeout(this.debounce)
    this.o.tracker.close() // wakes drains waiting on renderers; they see `closed` and leave
    await this.running
    await Promise.allSettled([...this.tasks])
  }
}

function describe (a: Action): string {
  switch (a.kind) {
    case 'create': return `create ${a.service}.${a.replica}@${a.specHash.slice(0, 8)}`
    case 'start': return `start ${a.container.name}`
    case 'replace': return `replace ${a.service}.${a.replica} → ${a.specHash.slice(0, 8)}`
    case 'remove': return `remove ${a.container.name} (${a.reason})`
  }
}

/** The spec's hash, computed once per spec object. */
const hashes = new WeakMap<ServiceSpec, string>()
export function hashOf (spec: ServiceSpec): string {
  let h = hashes.get(spec)
  if (h === undefined) { h = specHash(spec); hashes.set(spec, h) }
  return h
}
