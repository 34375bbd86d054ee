// The renderer role: KV tables → model → files → nginx, coalesced, with the
// applied generation announced on NATS.
import type { KV, NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import {
  checkEndpointRecord, checkServiceRecord, componentLogger, createLogger, createMetricsRegistry, LogOnce,
  type AppliedMessage, type EndpointRecord, type Logger, type ServiceRecord, NginxRejectedError,
} from '../core/index.js'
import { Buckets, KvTable, type TableChange, connectNats, encodeJson, openBucket, subjects, type NatsOptions } from '../bus/index.js'
import { buildModel, endpointRenderKey, serviceRenderKey, type Model } from './model.js'
import { TemplateSet, builtinTemplatesDir } from './render.js'
import { Coalescer, type Clock } from './coalescer.js'
import { ConfWriter } from './writer.js'
import { NginxController } from './nginx.js'
import { Applier, errorReason } from './apply.js'
import { TemplatesWatch } from './templates-watch.js'
import { createRendererMetrics, setLastError, type RendererMetrics } from './metrics.js'
import type { RendererConfig } from './config.js'
import { STATUS_FILE } from './render.js'

export interface RendererDeps {
  /** A connection to use (not closed by the renderer). Else one is made from natsOptions. */
  nc?: NatsConnection
  natsOptions?: NatsOptions
  log?: Logger
  registry?: Registry
  clock?: Clock
}

export interface RendererStatus {
  generation: number
  lastError: string | null
  applied: AppliedMessage | null
  heldBack: string[]
}

const RETRY_MIN_MS = 1000
const RETRY_MAX_MS = 30_000

export class Renderer {
  readonly registry: Registry
  readonly metrics: RendererMetrics
  private readonly log: Logger
  private readonly once: LogOnce
  private readonly templates: TemplateSet
  private readonly writer: ConfWriter
  private readonly nginx: NginxController
  private readonly applier: Applier
  private readonly coalescer: Coalescer
  private readonly watch?: TemplatesWatch
  private nc?: NatsConnection
  private ownNc = false
  private endpoints?: KvTable<EndpointRecord>
  private services?: KvTable<ServiceRecord>
  private announceTimer?: NodeJS.Timeout
  private retryTimer?: NodeJS.Timeout
  private retryMs = RETRY_MIN_MS
  private templatesDirty = false
  /** Templates changed and no apply succeeded since (see ApplyInput.allowHold). */
  private templatesUnproven = false
  private templateBroken: Error | null = null
  /** Service → container ids in the files nginx serves. */
  private routed = new Map<string, string[]>()
  private force = true
  private pendingSince: number | null = null
  private lastUsedGen = 0
  private closed = false
  private started = false
  generation = 0
  lastError: string | null = null
  applied: AppliedMessage | null = null

  constructor (readonly config: RendererConfig, private readonly deps: RendererDeps = {}) {
    this.log = componentLogger(deps.log ?? createLogger({ role: 'renderer' }), 'renderer')
    this.once = new LogOnce(this.log)
    this.registry = deps.registry ?? createMetricsRegistry('renderer')
    this.metrics = createRendererMetrics(this.registry)
    setLastError(this.metrics, null)
    const dirs = [...(config.templates != null ? [config.templates] : []), builtinTemplatesDir()]
    this.templates = new TemplateSet(dirs)
    this.writer = new ConfWriter(config.out)
    this.nginx = new NginxController({
      bin: config.nginxBin, conf: config.nginxConf, prefix: config.nginxPrefix, pidFile: config.nginxPid,
      statusPort: config.statusPort, reloadTimeoutMs: config.reloadTimeoutMs,
    })
    this.applier = new Applier(this.writer, this.nginx, this.log, (err, file) => this.onRejected(err, file))
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
    await this.writer.load()
    const onDisk = /# generation (\d+)/.exec(this.writer.current.get(STATUS_FILE) ?? '')
    this.lastUsedGen = Math.max(Number(onDisk?.[1] ?? 0), (await this.nginx.generation()) ?? 0)
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
    this.endpoints.on('change', (c: TableChange<EndpointRecord>) => {
      if (endpointRenderKey(c.value) !== endpointRenderKey(c.previous)) this.onChange()
    })
    this.services.on('change', (c: TableChange<ServiceRecord>) => {
      if (serviceRenderKey(c.value) !== serviceRenderKey(c.previous)) this.onChange()
    })
    await this.watch?.start()
    this.trigger()
    this.announceTimer = setInterval(() => this.announce(), this.config.announceIntervalMs)
    this.announceTimer.unref()
    this.log.info({ id: this.config.id, out: this.config.out, conf: this.config.nginxConf }, 'renderer started')
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

  /** Asks for a render (coalesced). */
  trigger (): void { this.coalescer.trigger() }

  /** Resolves when no render is running or pending. */
  async idle (): Promise<void> { await this.coalescer.idle() }

  private buildModel (): Model {
    const { model, invalid } = buildModel(this.endpoints?.entries ?? [], this.services?.entries ?? [])
    for (const i of invalid) {
      this.once.warn(`${i.key}:${i.reason}`, { key: i.key, reason: i.reason }, 'record dropped from the model')
    }
    return model
  }

  private async applyOnce (): Promise<void> {
    if (this.closed) return
    const since = this.pendingSince
    this.pendingSince = null
    const revision = this.endpoints?.revision ?? 0
    this.metrics.renders.inc()
    // A generation number is never reused once a status file carried it: a
    // reload that timed out may still take effect later.
    const generation = this.lastUsedGen + 1
    try {
      if (this.templatesDirty) this.reloadTemplates()
      const model = this.buildModel()
      const services = this.templates.renderServices(model, this.config.statusPort)
      const outcome = await this.applier.apply({
        services, generation, force: this.force, allowHold: !this.templatesUnproven,
        status: (g) => this.templates.renderStatus(model, g, this.config.statusPort),
      })
      this.templatesUnproven = false
      if (outcome.kind === 'applied') {
        this.lastUsedGen = generation
        this.generation = generation
        this.force = false
        this.metrics.reloads.inc({ result: 'ok' })
        this.metrics.reloadDuration.observe(outcome.reloadMs / 1000)
        if (since != null) this.metrics.convergence.observe((performance.now() - since) / 1000)
        this.metrics.generation.set(generation)
        this.log.info({ generation, reloadMs: Math.round(outcome.reloadMs), upstreams: model.services.length, endpoints: model.containers.length }, 'nginx reloaded')
      }
      this.metrics.upstreams.set(model.services.length)
      this.metrics.endpoints.set(model.containers.length)
      this.succeeded()
      this.applied = {
        v: 1, renderer: this.config.id, generation: this.generation, endpointsRevision: revision,
        containers: this.routedContainers(model), appliedAt: Date.now(),
      }
      this.announce()
    } catch (err) {
      this.lastUsedGen = Math.max(this.lastUsedGen, generation)
      this.failed(err)
    }
  }

  /**
   * Containers nginx routes now. A held-back service still serves its
   * previous file, so its previous containers are reported, never the new
   * ones: drain-before-stop must not see a container as gone while nginx
   * still routes it.
   */
  private routedContainers (model: Model): string[] {
    const held = this.applier.held
    const next = new Map<string, string[]>()
    for (const s of model.services) {
      next.set(s.name, held.has(`${s.name}.conf`) ? this.routed.get(s.name) ?? [] : s.servers.map((e) => e.containerId))
    }
    for (const [name, ids] of this.routed) if (held.has(`${name}.conf`) && !next.has(name)) next.set(name, ids)
    this.routed = next
    return [...next.values()].flat().sort()
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

  private onRejected (err: NginxRejectedError, file: string | null): void {
    this.metrics.rejected.inc()
    this.log.error({ file, output: err.output.trim() }, 'nginx -t rejected the rendered config; previous files restored')
  }

  private succeeded (): void {
    const held = [...this.applier.held.keys()]
    const error = this.templateBroken?.message ?? (held.length > 0 ? `nginx -t refused, held back at their previous version: ${held.join(', ')}` : null)
    if (error == null && (this.lastError != null || this.retryMs !== RETRY_MIN_MS)) this.log.info('renderer recovered')
    this.lastError = error
    this.retryMs = RETRY_MIN_MS
    setLastError(this.metrics, this.templateBroken != null ? 'template' : held.length > 0 ? 'rejected' : null)
  }

  private failed (err: unknown): void {
    const reason = errorReason(err)
    this.lastError = (err as Error).message
    setLastError(this.metrics, reason)
    if (reason === 'template') this.metrics.rejected.inc()
    if (reason === 'reload' || reason === 'write') {
      this.metrics.reloads.inc({ result: 'failed' })
      // nginx may come back (or a disk may free up): retry with backoff.
      this.force = true
      clearTimeout(this.retryTimer)
      this.retryTimer = setTimeout(() => this.trigger(), this.retryMs)
      this.retryTimer.unref()
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS)
    }
    // A template or nginx -t rejection waits for the next change (KV or template).
    this.log.error({ err, reason }, 'apply failed: nginx keeps serving the previous configuration')
  }

  /** Publishes the applied generation: after each reload, and periodically as a liveness signal. */
  private announce (): void {
    if (this.applied == null || this.nc == null || this.nc.isClosed()) return
    this.nc.publish(subjects(this.config.prefix).applied(this.config.id), encodeJson({ ...this.applied, appliedAt: Date.now() }))
  }

  status (): RendererStatus {
    return { generation: this.generation, lastError: this.lastError, applied: this.applied, heldBack: [...this.applier.held.keys()] }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.announceTimer)
    clearTimeout(this.retryTimer)
    await this.coalescer.close()
    this.nginx.close()
    await this.watch?.close()
    await Promise.all([this.endpoints?.close(), this.services?.close()])
    if (this.ownNc && this.nc != null) await this.nc.drain().catch(() => undefined)
  }
}
