// The renderer role's loop: KV tables → model → (lua mode: push the endpoint
// sets into nginx) → files → nginx -t → reload when a file changed, coalesced,
// with the applied generation announced on NATS.
import type { KV, NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import {
  NginxRejectedError, checkEndpointRecord, checkServiceRecord, componentLogger, createLogger, createMetricsRegistry, LogOnce,
  type AppliedMessage, type EndpointRecord, type Logger, type ServiceRecord,
} from '../core/index.js'
import { Buckets, KvTable, type TableChange, connectNats, encodeJson, openBucket, subjects, type NatsOptions } from '../bus/index.js'
import { endpointRenderKey, serviceRenderKey, type Model } from './model.js'
import { RemoteEndpoints } from './remote-sites.js'
import { ModelCache } from './model-cache.js'
import { TemplateSet, builtinTemplatesDir } from './templates.js'
import { Coalescer, type Clock } from './coalescer.js'
import { ConfWriter } from './writer.js'
import { NginxController } from './nginx.js'
import { Applier, type ApplyOutcome } from './apply.js'
import { HeldBack } from './held-back.js'
import { RejectionLog } from './rejections.js'
import { Failures } from './failures.js'
import { LuaPusher, type ChangeHint, type PushResult } from './lua-push.js'
import { detectMode, type ResolvedMode } from './mode.js'
import { TemplatesWatch } from './templates-watch.js'
import { createRendererMetrics, registerNginxStats, setLastError, type RendererMetrics } from './metrics.js'
import { DEFAULT_STATS_INTERVAL_MS, type RendererConfig } from './config.js'
import { StatsPublisher } from './stats-publisher.js'
import { ControlChannel } from './control-channel.js'
import { CERTS_SUBDIR, ROUTES_FILE, STATUS_FILE, TLS_FILE, generationOfStatus, hasHostPrefixEntries } from './file-format.js'
import { CertStore, CertWatch, createCertMetrics } from './certs/index.js'
import { unifiedDiff } from './dry-run.js'
import { join } from 'node:path'
import { buildRoutes, endpointRouteKey, serviceRouteKey, type HostTls, type RouteTable } from './routes.js'
import { labelsByContainer, serversContext } from './route-view.js'
import { APPLIED_INLINE_MAX, RoutesResponder } from './routes-responder.js'

export interface RendererDeps {
  /** A connection to use (not closed by the renderer). Else one is made from natsOptions. */
  nc?: NatsConnection
  natsOptions?: NatsOptions
  log?: Logger
  registry?: Registry
  clock?: Clock
  /** The certificate of a route host, if any (issue 16's TLS side; default none). Call invalidateRoutes() when it changes. */
  certFor?: (host: string) => HostTls | undefined
}

/** What this renderer has applied: the announcement's fields, the whole id list always at hand (built lazily). */
export type AppliedState = AppliedMessage & { containers: string[] }

export interface RendererStatus {
  mode: ResolvedMode | null
  generation: number
  lastError: string | null
  applied: AppliedState | null
  heldBack: string[]
}

export class Renderer {
  readonly registry: Registry
  readonly metrics: RendererMetrics
  private readonly log: Logger
  private readonly once: LogOnce
  private templates!: TemplateSet
  private readonly writer: ConfWriter
  private readonly nginx: NginxController
  private readonly applier: Applier
  private readonly held = new HeldBack()
  private readonly failures: Failures
  private readonly coalescer: Coalescer
  private readonly watch?: TemplatesWatch
  private pusher?: LuaPusher
  private stats?: StatsPublisher
  /** --certs: accepted certificates and the folder watch. */
  readonly certs?: CertStore
  private readonly certWatch?: CertWatch
  /** The certificate of a route host: deps.certFor, else --certs, else none. */
  private readonly certFor?: (host: string) => HostTls | undefined
  /** Read --certs again before the next render. */
  private certsDirty = true
  /** What serves changed and no apply succeeded since. */
  private certsChanged = false
  private nc?: NatsConnection
  private ownNc = false
  private endpoints?: KvTable<EndpointRecord>
  private services?: KvTable<ServiceRecord>
  /** Other sites' endpoints for specs with `failover` (issue 21). */
  private remote?: RemoteEndpoints
  private readonly models = new ModelCache()
  /** Service → its endpoint records by key (for rebuilding one service). */
  private byService = new Map<string, Map<string, EndpointRecord>>()
  private announceTimer?: NodeJS.Timeout
  /** The route table, rebuilt only when a route claim (spec routes, route labels) or a certificate changed. */
  private routeTable: RouteTable = { hosts: [], conflicts: [], invalid: [] }
  private routesDirty = true
  /** The route table changed since the last successful apply (lua mode: reload). */
  private routesChanged = false
  /** The `<service>.<anything>` Host convenience, resolved at start. */
  private hostPrefix = true
  /** Answers drain queries for the routed ids an announcement leaves out (issue 20). */
  private routesResponder?: RoutesResponder
  private templatesDirty = false
  /** Templates changed and no apply succeeded since (see ApplyInput.allowHold). */
  private templatesUnproven = false
  private templateBroken: Error | null = null
  /** Reload even when no file changed: at start and after a failed reload. */
  private force = true
  private firstApply = true
  private pendingSince: number | null = null
  private lastUsedGen = 0
  private closed = false
  private started = false
  /** The mode in use (auto resolved at start). */
  mode: ResolvedMode | null = null
  generation = 0
  applied: AppliedState | null = null

  constructor (readonly config: RendererConfig, private readonly deps: RendererDeps = {}) {
    this.log = componentLogger(deps.log ?? createLogger({ role: 'renderer' }), 'renderer')
    this.once = new LogOnce(this.log)
    this.registry = deps.registry ?? createMetricsRegistry('renderer')
    this.metrics = createRendererMetrics(this.registry)
    setLastError(this.metrics, null)
    this.writer = new ConfWriter(config.out)
    this.nginx = new NginxController({
      bin: config.nginxBin, conf: config.nginxConf, prefix: config.nginxPrefix, pidFile: config.nginxPid,
      statusPort: config.statusPort, reloadTimeoutMs: config.reloadTimeoutMs, reloadCmd: config.reloadCmd,
    })
    if (config.certs != null) {
      this.certs = new CertStore({ dir: config.certs, copyDir: join(config.out, CERTS_SUBDIR), log: this.log, metrics: createCertMetrics(this.registry) })
      this.certWatch = new CertWatch({
        dir: config.certs, debounceMs: config.certsDebounceMs ?? 500, rescanMs: 60_000,
        onChange: () => { this.certsDirty = true; this.trigger() },
      })
    }
    const certs = this.certs
    this.certFor = deps.certFor ?? (certs != null ? (host) => certs.certFor(host) : undefined)
    const rejections = new RejectionLog(this.log, this.metrics.rejected)
    this.applier = new Applier(this.writer, this.nginx, this.log, this.held, (err, file) => rejections.report(err, file))
    this.failures = new Failures(this.log, this.metrics, () => this.trigger())
    this.coalescer = new Coalescer({
      minWaitMs: config.minWaitMs, maxWaitMs: config.maxWaitMs, clock: deps.clock,
      run: async () => await this.applyOnce(),
      onError: (err) => this.log.error({ err }, 'apply crashed'),
    })
    if (config.templates != null) {
      this.watch = new TemplatesWatch(config.templates, (path) => {
        this.log.info({ path }, 'template changed')
        this.templatesDirty = true
        this.trigger()
      })
    }
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await this.open()
    await this.watch?.start()
    await this.certWatch?.start()
    this.pusher?.watch(() => this.trigger())
    this.trigger()
    if (this.nc != null) {
      this.routesResponder = new RoutesResponder({
        nc: this.nc, subject: subjects(this.config.prefix).routes(this.config.id), renderer: this.config.id,
        current: () => this.applied, log: this.log, onRefused: () => { this.metrics.invalid.inc({ reason: 'routes_query' }) },
      })
      this.routesResponder.start()
      this.startStats(this.nc)
    }
    this.announceTimer = setInterval(() => this.announce(), this.config.announceIntervalMs)
    this.announceTimer.unref()
    this.log.info({ id: this.config.id, mode: this.mode, out: this.config.out, conf: this.config.nginxConf }, 'renderer started')
  }

  /**
   * `--once`: render, validate, apply and announce once; throws with the
   * reason when that failed or left something refused (a service held
   * back, a certificate refused, a template kept at its previous version).
   */
  async runOnce (): Promise<void> {
    if (this.started) throw new Error('runOnce: the renderer is already running')
    this.started = true
    await this.open()
    await this.applyNow()
    if (this.lastError != null) throw new Error(`applied, but: ${this.lastError}`)
  }

  /**
   * `--dry-run`: the unified diff between the files in --out and what this
   * render would write (the status file, rewritten on every reload, is left
   * out). Writes nothing, runs no nginx -t, reloads nothing.
   */
  async dryRun (): Promise<string> {
    if (this.started) throw new Error('dryRun: the renderer is already running')
    this.started = true
    await this.open({ readOnly: true })
    if (this.certs != null) await this.certs.scan({ write: false })
    const files = this.renderFiles(this.buildModel())
    const current = new Map(this.writer.current)
    current.delete(STATUS_FILE)
    return unifiedDiff(current, files, this.config.out)
  }

  /** Mode, what is on disk, NATS and the tables (initial values in). */
  private async open ({ readOnly = false } = {}): Promise<void> {
    await this.resolveMode()
    await this.writer.load({ create: !readOnly })
    this.resolveHostPrefix()
    this.lastUsedGen = Math.max(generationOfStatus(this.writer.current.get(STATUS_FILE)),
      (await this.nginx.generation()) ?? 0, (await this.pusher?.generation()) ?? 0)
    this.nc = this.deps.nc
    if (this.nc == null) {
      if (this.deps.natsOptions == null) throw new Error('createRenderer: pass deps.nc or deps.natsOptions')
      this.nc = await connectNats(this.deps.natsOptions, this.log)
      this.ownNc = true
    }
    this.endpoints = this.table(await openBucket(this.nc, Buckets.endpoints), 'endpoint', (v) =>
      checkEndpointRecord.problems(v) == null ? v as EndpointRecord : null)
    this.services = this.table(await openBucket(this.nc, Buckets.services), 'service', (v) =>
      checkServiceRecord.problems(v) == null ? v as ServiceRecord : null)
    await Promise.all([this.endpoints.start(), this.services.start()])
    if (readOnly) return
    this.endpoints.on('change', (c: TableChange<EndpointRecord>) => {
      this.index(c.key, c.value, c.previous)
      if (endpointRouteKey(c.value) !== endpointRouteKey(c.previous)) this.routesDirty = true
      if (endpointRenderKey(c.value) !== endpointRenderKey(c.previous) || this.routesDirty) {
        this.models.touch(c.value?.service ?? c.previous?.service)
        this.onChange()
      }
    })
    this.services.on('change', (c: TableChange<ServiceRecord>) => {
      if (serviceRouteKey(c.value) !== serviceRouteKey(c.previous)) this.routesDirty = true
      if (serviceRenderKey(c.value) !== serviceRenderKey(c.previous) || this.routesDirty) {
        this.models.touch(c.key)
        this.onChange()
      }
      if (c.value?.spec.failover !== undefined) this.remote?.want(RemoteEndpoints.wanted([c.value]))
    })
    const remote = new RemoteEndpoints({
      nc: this.nc, log: this.log,
      onChange: (service) => { this.models.touch(service); this.onChange() },
      onInvalid: (key, reason) => { this.metrics.invalid.inc({ reason: `remote_endpoint_${reason}` }); this.once.warn(`remote:${reason}`, { key }, 'ignoring invalid remote endpoint record') },
    })
    this.remote = remote
    remote.want(RemoteEndpoints.wanted(this.services.entries.values()))
  }

  /** 'auto' keeps the convenience only for an existing install (its routes file has entries). */
  private resolveHostPrefix (): void {
    const want = this.config.hostPrefix
    this.hostPrefix = want === 'auto' ? hasHostPrefixEntries(this.writer.current.get(ROUTES_FILE)) : want !== false
    if (want === 'auto') {
      this.log.info({ hostPrefix: this.hostPrefix }, this.hostPrefix
        ? 'host-prefix routing kept on: this --out folder already routes <service>.<anything> (set hostPrefix: false to turn it off)'
        : 'host-prefix routing off (new install): only routes claim hosts (set hostPrefix: true for <service>.<anything>)')
    }
  }

  private async resolveMode (): Promise<void> {
    const wanted = this.config.mode ?? 'auto'
    if (wanted === 'auto') {
      const d = await detectMode(this.config.nginxBin, this.config.nginxConf, this.config.nginxPrefix)
      this.mode = d.mode
      this.log.info({ mode: d.mode, why: d.why }, 'mode auto')
    } else this.mode = wanted
    const dirs = [...(this.config.templates != null ? [this.config.templates] : []), builtinTemplatesDir()]
    this.templates = new TemplateSet(dirs, this.mode)
    if (this.mode === 'lua') {
      this.coalescer.setMinWait(0)
      this.pusher = new LuaPusher(this.config.statusPort, this.log)
      const pusher = this.pusher
      registerNginxStats(this.registry, async () => await pusher.channel.stats())
    }
  }

  /**
   * Lua mode: per-service counters for the registry's load rates (file mode
   * has none). Its own control channel: a stats read stuck on a restarting
   * nginx must never hold a socket the pushes and the boot watch need.
   */
  private startStats (nc: NatsConnection): void {
    if (this.pusher == null) return
    const channel = new ControlChannel(this.config.statusPort)
    this.stats = new StatsPublisher({
      nc, id: this.config.id, prefix: this.config.prefix, intervalMs: this.config.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS,
      read: async () => await channel.stats(), log: this.log, registry: this.registry, close: () => { channel.close() },
    })
    this.stats.start()
  }

  private table<T> (kv: KV, what: string, decode: (v: unknown) => T | null): KvTable<T> {
    return new KvTable<T>({
      kv, log: this.log, decode,
      onInvalid: (key, reason) => {
        this.metrics.invalid.inc({ reason: `${what}_${reason}` })
        this.once.warn(`${what}:${reason}`, { key }, `ignoring invalid ${what} record`)
      },
    })
  }

  private onChange (): void {
    this.pendingSince ??= performance.now()
    this.trigger()
  }

  /** A certificate appeared, changed or went (the TLS side): rebuild the route table and re-render. */
  invalidateRoutes (): void {
    this.routesDirty = true
    this.onChange()
  }

  /** Asks for a render (coalesced). */
  trigger (): void { this.coalescer.trigger() }

  /** Resolves when no render is running or pending. */
  async idle (): Promise<void> { await this.coalescer.idle() }

  private index (key: string, value: EndpointRecord | undefined, previous: EndpointRecord | undefined): void {
    const old = previous?.service
    if (old != null) this.byService.get(old)?.delete(key)
    if (value?.service == null) return
    let m = this.byService.get(value.service)
    if (m == null) { m = new Map(); this.byService.set(value.service, m) }
    m.set(key, value)
  }

  /** Lua mode: no service file can differ from the last build's (no rendering, no diff needed). */
  private filesUnchanged = false
  /** The last apply failed: the files on disk may not be what the model renders. */
  private filesSuspect = true

  /** What the last buildModel rebuilt (lua mode's O(changed) delta). */
  private hint: ChangeHint | undefined
  /** Endpoints in the last model (without materialising its container list). */
  private endpointCount = 0
  /** Containers in `applied` when known without building the list. */
  private appliedCount: number | null = null

  private buildModel (): Model {
    const { model, invalid, luaFilesChanged, changed, lookup, endpoints } = this.models.model({
      all: () => {
        // a full build re-seeds the per-service index from the tables
        this.byService = new Map()
        for (const [k, v] of this.endpoints?.entries ?? []) this.index(k, v, undefined)
        return { endpoints: this.endpoints?.entries ?? [], services: this.services?.entries ?? [] }
      },
      endpoints: (service) => this.byService.get(service) ?? [],
      spec: (service) => this.services?.entries.get(service),
      remote: (site, service) => this.remote?.endpoints(site, service) ?? [],
    })
    for (const i of invalid) {
      this.once.warn(`${i.key}:${i.reason}`, { key: i.key, reason: i.reason }, 'record dropped from the model')
    }
    this.updateRoutes(model)
    this.filesUnchanged = this.mode === 'lua' && !luaFilesChanged && !this.routesChanged
    this.hint = { changed, lookup }
    this.endpointCount = endpoints
    return model
  }

  /**
   * Rebuilds the route table when a claim changed (O(records): never on a
   * plain endpoint change). A claim that loses to another service is logged
   * once and counted (driftgate_renderer_route_conflicts).
   */
  private updateRoutes (model: Model): void {
    if (!this.routesDirty) return
    this.routesDirty = false
    const names = new Set(model.services.map((s) => s.name))
    const next = buildRoutes(this.services?.entries.values() ?? [], this.endpoints?.entries.values() ?? [],
      { certFor: this.certFor, exists: (n) => names.has(n) })
    for (const c of next.conflicts) {
      this.once.warn(`route:${c.host} ${c.path}:${c.loser}:${c.winner}`, { ...c },
        'route claim skipped: another service holds this host and path')
    }
    for (const i of next.invalid) this.once.warn(`route-invalid:${i.service}:${i.reason}`, i, 'route claim dropped')
    this.metrics.routeConflicts.set(next.conflicts.length)
    this.metrics.routeHosts.set(next.hosts.length)
    if (JSON.stringify(next.hosts) !== JSON.stringify(this.routeTable.hosts) || JSON.stringify(next.conflicts) !== JSON.stringify(this.routeTable.conflicts)) {
      this.routesChanged = true
    }
    this.routeTable = next
  }

  /** Why a reload would happen now (the reloads metric's `cause`). */
  private reloadCause (): string {
    if (this.templatesUnproven) return 'template'
    if (this.firstApply) return 'start'
    if (this.force) return 'retry'
    if (this.certsChanged) return 'certificate'
    if (this.routesChanged && this.mode === 'lua') return 'routes'
    return this.mode === 'lua' ? 'services' : 'endpoints'
  }

  private async applyOnce (): Promise<void> {
    if (this.closed) return
    // failures are reported (log, metrics, last error, retry) by applyNow
    await this.applyNow().catch(() => undefined)
  }

  /** One apply; a failure is reported, then thrown. */
  private async applyNow (): Promise<void> {
    const since = this.pendingSince
    this.pendingSince = null
    const revision = this.endpoints?.revision ?? 0
    this.metrics.renders.inc()
    // A generation number is never reused once a status file or a push
    // carried it: a reload that timed out may still take effect later.
    const generation = this.lastUsedGen + 1
    let cause = 'start'
    try {
      if (this.templatesDirty) this.reloadTemplates()
      await this.scanCerts()
      const model = this.buildModel()
      cause = this.reloadCause()
      // Lua mode pushes first: a service that appears has its endpoints in
      // the dict by the time the reload creates its upstream. A failed push
      // still lets the files be written (nginx may be starting from them).
      let pushed = await this.push(model, generation, since)
      const outcome = await this.applyFiles(model, generation)
      // The reload may have just installed the control channel (first start
      // in lua mode, or a switch from file mode): push again at once.
      if (pushed instanceof Error && outcome.kind === 'applied') pushed = await this.push(model, generation, since)
      if (pushed instanceof Error) throw pushed
      this.templatesUnproven = false
      this.firstApply = false
      if (outcome.kind === 'applied') {
        this.onReloaded(outcome, cause, model)
        // nginx no longer reads the copies of replaced certificates
        if (this.certsChanged) await this.certs?.prune().catch((err: unknown) => this.log.warn({ err }, 'cannot prune old certificate copies'))
        this.certsChanged = false
      }
      if (pushed?.pushed === true || outcome.kind === 'applied') {
        this.lastUsedGen = generation
        this.generation = generation
        this.metrics.generation.set(generation)
        if (since != null) this.metrics.convergence.observe((performance.now() - since) / 1000)
      }
      this.metrics.upstreams.set(model.services.length)
      this.metrics.endpoints.set(this.endpointCount)
      this.succeeded()
      // the container list is built when first read (announce, tests):
      // 50,000 ids at 10,000 × 5 are too many for one NATS message anyway
      const routed = this.held.routedContainers(model)
      let ids: string[] | undefined
      this.applied = {
        v: 1, renderer: this.config.id, generation: this.generation, endpointsRevision: revision,
        get containers (): string[] { return (ids ??= routed()) }, appliedAt: Date.now(),
      }
      this.appliedCount = this.held.names().length === 0 ? this.endpointCount : null
      this.announce()
      this.filesSuspect = false
    } catch (err) {
      this.filesSuspect = true
      this.lastUsedGen = Math.max(this.lastUsedGen, generation)
      const reason = this.failures.failed(err, cause)
      // nginx may come back (or a disk may free up): the retry reloads even
      // if no file changed. A failed push needs no reload: the next push is full.
      if (reason !== 'push' && reason !== 'template' && reason !== 'rejected') this.force = true
      throw err
    }
  }

  /** Reads --certs again when it changed; a refused pair is reported by the store and changes nothing. */
  private async scanCerts (): Promise<void> {
    if (this.certs == null || !this.certsDirty) return
    this.certsDirty = false
    try {
      if (await this.certs.scan()) {
        this.certsChanged = true
        this.routesDirty = true // the route table carries each host's certificate
      }
    } catch (err) {
      this.certsDirty = true // e.g. the copy could not be written: read again on the retry
      throw err
    }
  }

  /** Lua mode: the push, or the error it failed with (null in file mode). */
  private async push (model: Model, generation: number, since: number | null): Promise<PushResult | Error | null> {
    if (this.pusher == null) return null
    try {
      const r = await this.pusher.push(model, generation, this.hint)
      if (r.pushed) {
        this.metrics.pushes.inc({ result: 'ok', kind: r.full ? 'full' : 'delta' })
        this.metrics.pushDuration.observe(r.ms / 1000)
        // epoch ms (µs precision) of the answer and of the first change it
        // carries: the convergence bench splits the renderer's share with them
        const epoch = (t: number): number => Math.round((performance.timeOrigin + t) * 1000) / 1000
        this.log.debug({ generation, changed: r.changed, full: r.full, ms: Math.round(r.ms * 100) / 100, at: epoch(performance.now()), changeAt: since != null ? epoch(since) : undefined }, 'endpoints pushed')
      }
      return r
    } catch (err) {
      this.metrics.pushes.inc({ result: 'failed', kind: 'any' })
      return err as Error
    }
  }

  private async applyFiles (model: Model, generation: number): Promise<ApplyOutcome> {
    // the fast path of an endpoint change at 10,000 services: 10,000 files
    // would render to the bytes they have (a held-back service is retried on
    // its next change of name or keepalive)
    if (this.filesUnchanged && !this.filesSuspect && !this.force && !this.templatesUnproven && !this.certsChanged && this.held.names().length === 0) return { kind: 'unchanged' }
    let outcome: ApplyOutcome
    for (let tries = 0; ; tries++) {
      try {
        outcome = await this.applier.apply({
          services: this.renderFiles(model), generation, force: this.force, allowHold: !this.templatesUnproven,
          status: (g) => this.templates.renderStatus(model, g, this.config.statusPort),
        })
        break
      } catch (err) {
        // a certificate nginx will not load must not freeze every other change: drop it and go again
        if (tries < 3 && err instanceof NginxRejectedError && this.certs?.refuseServed(err.output) === true) {
          this.routesDirty = true
          this.updateRoutes(model)
          continue
        }
        throw err
      }
    }
    if (outcome.kind === 'applied') this.force = false
    this.routesChanged = false
    return outcome
  }

  /** Every file of --out but the status file. */
  private renderFiles (model: Model): Map<string, string> {
    const https = this.config.httpsListen ?? '443'
    const edge = serversContext(model, this.routeTable, labelsByContainer(this.endpoints?.entries.values() ?? []), {
      listen: this.config.httpListen ?? '80', listenTls: https, hostPrefix: this.hostPrefix, statusPort: this.config.statusPort,
    })
    const files = this.templates.renderServices(model, this.config.statusPort, edge)
    if (this.certs != null) files.set(TLS_FILE, this.templates.renderTls(this.routeTable.hosts.filter((h) => h.tls != null).length, https))
    return files
  }

  private onReloaded (outcome: Extract<ApplyOutcome, { kind: 'applied' }>, cause: string, model: Model): void {
    this.metrics.reloads.inc({ result: 'ok', cause })
    this.metrics.reloadDuration.observe(outcome.reloadMs / 1000)
    this.log.info({ generation: outcome.generation, cause, reloadMs: Math.round(outcome.reloadMs), upstreams: model.services.length, endpoints: this.endpointCount }, 'nginx reloaded')
  }

  /**
   * A template that does not compile is reported (and stays reported until it
   * is fixed) while the last good templates keep serving KV changes.
   */
  private reloadTemplates (): void {
    this.templatesDirty = false
    try {
      this.templates.reload()
      this.templateBroken = null
      this.templatesUnproven = true
      this.force = true
    } catch (err) {
      this.templateBroken = err as Error
      this.metrics.rejected.inc()
      this.log.error({ err }, 'templates do not compile: keeping the previous ones until they are fixed')
    }
  }

  get lastError (): string | null { return this.failures.lastError }

  private succeeded (): void {
    const held = this.held.names()
    if (this.templateBroken != null) this.failures.succeeded({ reason: 'template', message: this.templateBroken.message })
    else if (held.length > 0) this.failures.succeeded({ reason: 'rejected', message: `nginx -t refused, held back at their previous version: ${held.join(', ')}` })
    else if ((this.certs?.refusals().length ?? 0) > 0) this.failures.succeeded({ reason: 'certificate', message: certificateProblem(this.certs!) })
    else this.failures.succeeded(null)
  }

  /**
   * Publishes the applied generation: after each apply, and periodically as a
   * liveness signal. The id list rides along only while small; beyond
   * APPLIED_INLINE_MAX the message carries the count and drains ask the
   * routes responder, so the message stays small at any fleet size.
   */
  private announce (): void {
    if (this.applied == null || this.nc == null || this.nc.isClosed()) return
    const count = this.appliedCount ?? this.applied.containers.length
    // field by field: spreading `applied` would build its (lazy) id list
    const { v, renderer, generation, endpointsRevision } = this.applied
    const head = { v, renderer, generation, endpointsRevision }
    const msg: AppliedMessage = count <= APPLIED_INLINE_MAX
      ? { ...head, containers: this.applied.containers, count, appliedAt: Date.now() }
      : { ...head, count, appliedAt: Date.now() }
    try {
      this.nc.publish(subjects(this.config.prefix).applied(this.config.id), encodeJson(msg))
    } catch (err) {
      // Never let a timer's throw end the process (e.g. the connection closing).
      this.once.warn('announce', { err, containers: count }, 'cannot announce the applied generation')
    }
  }

  status (): RendererStatus {
    return { mode: this.mode, generation: this.generation, lastError: this.lastError, applied: this.applied, heldBack: this.held.names() }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.announceTimer)
    this.stats?.close()
    this.routesResponder?.close()
    this.failures.close()
    await this.coalescer.close()
    this.nginx.close()
    this.pusher?.close()
    await this.watch?.close()
    await this.certWatch?.close()
    await Promise.all([this.endpoints?.close(), this.services?.close(), this.remote?.close()])
    if (this.ownNc && this.nc != null) await this.nc.drain().catch(() => undefined)
  }
}

/** last_error's text for refused certificates. */
function certificateProblem (certs: CertStore): string {
  const served = new Set(certs.accepted().map((e) => e.source))
  return 'certificate refused: ' + certs.refusals().map((r) =>
    `${r.source} (${r.reason}: ${r.message}; ${served.has(r.source) ? 'the previous one keeps serving' : 'HTTP only'})`).join(', ')
}
