// An in-memory mirror of one KV bucket, kept current by a watch. Readers
// (renderer, lookup, placement) work from this, never from per-request gets.
// A mirror that silently stops is worse than one that fails: a throwing
// 'change' listener is caught and counted, and a watch that ends while the
// table is open is opened again from the next revision.
import { EventEmitter } from 'node:events'
import type { KV, KvEntry, QueuedIterator } from 'nats'
import { Counter, type Registry } from 'prom-client'
import { decodeJson } from './codec.js'
import { backoffDelay, type Logger } from '../core/index.js'
import { retrying } from './retry.js'
import { openHedged } from './hedged.js'
import { followNodeChanges } from './node-changes.js'

export interface TableChange<T> {
  key: string
  value: T | undefined
  previous: T | undefined
  revision: number
  /** The value came from `known`: a write of this process's own. */
  own?: boolean
}

export interface KvTableOptions<T> {
  kv: KV
  log: Logger
  /** Returns the typed value, or null when the stored value is invalid (it is then ignored). */
  decode: (value: unknown, key: string) => T | null
  /** Called for each ignored value, e.g. to count it in a metric. */
  onInvalid?: (key: string, reason: string) => void
  /** Where driftgate_kv_table_errors_total{bucket,kind} is registered (the role's registry). */
  metrics?: Registry
  /**
   * The value of `key` at `revision` (stored as `data`) when the caller already
   * holds it (it wrote it itself): the table then skips decoding and checking it.
   * Asked before the entry's operation is read: answer only for a PUT of yours
   * (a match by revision, or by non-empty bytes; a delete has none).
   */
  known?: (key: string, revision: number, data: Uint8Array) => T | undefined
  /** First delay before a watch that ended is opened again (doubles up to 5 s). */
  rewatchDelayMs?: number
  /** Only keys matching this subject filter (e.g. `pool.>`); default every key. */
  key?: string
}

type ErrorKind = 'listener' | 'watch'

const ERRORS_METRIC = 'driftgate_kv_table_errors_total'
const MAX_REWATCH_DELAY_MS = 5000

function errorCounter (registry: Registry | undefined): Counter<'bucket' | 'kind'> | undefined {
  if (registry === undefined) return undefined
  const existing = registry.getSingleMetric(ERRORS_METRIC)
  if (existing !== undefined) return existing as Counter<'bucket' | 'kind'>
  return new Counter({
    name: ERRORS_METRIC,
    help: "KV mirror faults survived: a 'change' listener threw (listener), or the watch ended and was opened again (watch)",
    labelNames: ['bucket', 'kind'],
    registers: [registry],
  })
}

/**
 * Emits 'change' (TableChange) for every change after the initial load, and
 * 'ready' once the initial values are in. `revision` is the highest KV
 * revision seen: a cheap version number of the whole table.
 */
export class KvTable<T> extends EventEmitter {
  readonly entries = new Map<string, T>()
  revision = 0
  /** Faults survived so far, also counted in the metric when a registry is given. */
  readonly errors: Record<ErrorKind, number> = { listener: 0, watch: 0 }
  /** Watches reopened because the connection moved or a server left the cluster (followReconnects). */
  reopens = 0
  private iter?: QueuedIterator<KvEntry>
  private loop?: Promise<void>
  private closed = false
  private wake?: () => void
  /** Set when the table stopped its own watch after a reconnect: the next watch opens at once, no fault. */
  private reopen = false
  private statuses?: { stop: () => void }
  private readonly counter?: Counter<'bucket' | 'kind'>
  private readonly logged = new Set<ErrorKind>()
  // The KV interface does not declare it; nats.js's Bucket has it.
  private readonly bucket: string

  constructor (private readonly opts: KvTableOptions<T>) {
    super()
    this.counter = errorCounter(opts.metrics)
    this.bucket = String((opts.kv as unknown as { bucket?: unknown }).bucket ?? '')
  }

  async start (): Promise<void> {
    let ready!: () => void
    const initialized = new Promise<void>((resolve) => { ready = resolve })
    // Opening the watch is a JetStream request: a busy server's TIMEOUT is retried, not fatal to the caller's start.
    this.iter = await retrying(`watch ${this.bucket}`, async () => await this.opts.kv.watch({ key: this.opts.key ?? '>', initializedFn: () => ready() }),
      { log: this.opts.log, closed: () => this.closed })
    this.loop = this.run(this.iter)
    await initialized
    this.followReconnects()
    this.emit('ready')
  }

  /** After a reconnect or a membership change the watch is opened again from the next revision (node-changes.ts). */
  private followReconnects (): void {
    if (this.closed) return
    this.statuses = followNodeChanges(this.opts.kv, () => {
      if (this.closed || this.iter === undefined) return
      this.reopen = true
      this.reopens++
      this.iter.stop()
    })
  }

  /** Consumes the watch; when it ends while open, waits and opens it again after the last revision seen. */
  private async run (first: QueuedIterator<KvEntry>): Promise<void> {
    let iter: QueuedIterator<KvEntry> | undefined = first
    const backoff = { baseMs: this.opts.rewatchDelayMs ?? 250, maxMs: MAX_REWATCH_DELAY_MS }
    let attempt = 0
    while (!this.closed) {
      let reopen = false
      if (iter !== undefined) {
        const applied = await this.consume(iter)
        if (this.closed) return
        reopen = this.reopen // stopped by followReconnects: open again now, not a fault
        this.reopen = false
        if (!reopen) this.fault('watch', new Error('kv watch ended'))
        if (applied || reopen) attempt = 0
      }
      if (!reopen) await this.pause(backoffDelay(++attempt, backoff))
      if (this.closed) return
      const from = this.revision + 1
      iter = await openHedged(async () => await this.opts.kv.watch({ key: this.opts.key ?? '>', resumeFromRevision: from }), { everyMs: 1000, maxTries: 30, closed: () => this.closed })
        .catch((err: unknown) => { this.fault('watch', err); return undefined })
      if (this.closed) iter?.stop()
      else this.iter = iter
    }
  }

  /** True when at least one entry came through before the watch ended. */
  private async consume (iter: QueuedIterator<KvEntry>): Promise<boolean> {
    let applied = false
    try {
      for await (const e of iter) { this.apply(e); applied = true }
    } catch (err) {
      if (!this.closed) this.opts.log.debug({ err }, 'kv watch failed')
    }
    return applied
  }

  private async pause (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.wake = () => { clearTimeout(timer); resolve() }
    })
    this.wake = undefined
  }

  /** Counted every time, logged once per kind: a listener that throws on every change must not flood the log. */
  private fault (kind: ErrorKind, err: unknown): void {
    this.errors[kind]++
    this.counter?.inc({ bucket: this.bucket, kind })
    if (this.logged.has(kind)) return
    this.logged.add(kind)
    const msg = kind === 'listener' ? "kv table 'change' listener threw; the table keeps watching" : 'kv watch ended; opening it again'
    this.opts.log.error({ err, bucket: this.bucket }, msg)
  }

  private apply (e: KvEntry): void {
    if (e.revision <= this.revision) return // already applied (a re-watch never replays, but be sure)
    if (e.revision > this.revision) this.revision = e.revision
    const previous = this.entries.get(e.key)
    let value: T | undefined
    let own = false
    // `known` first: a write of ours is a PUT, so its operation (a header
    // decode per entry in nats.js) need not be read (docs/architecture.md).
    const known = this.opts.known?.(e.key, e.revision, e.value)
    if (known !== undefined || e.operation === 'PUT') {
      own = known !== undefined
      const typed = known ?? this.decodeEntry(e)
      if (typed == null) return
      value = typed
      this.entries.set(e.key, value)
    } else {
      if (previous === undefined) return
      this.entries.delete(e.key)
    }
    try {
      this.emit('change', { key: e.key, value, previous, revision: e.revision, ...(own ? { own } : {}) } satisfies TableChange<T>)
    } catch (err) {
      this.fault('listener', err)
    }
  }

  private decodeEntry (e: KvEntry): T | null {
    const decoded = decodeJson(e.value)
    const typed = decoded.ok ? this.opts.decode(decoded.value, e.key) : null
    if (typed == null) this.opts.onInvalid?.(e.key, decoded.ok ? 'schema' : decoded.reason)
    return typed
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.statuses?.stop()
    this.iter?.stop()
    this.wake?.()
    await this.loop
  }
}
