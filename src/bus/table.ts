// An in-memory mirror of one KV bucket, kept current by a watch. Readers
// (renderer, lookup, placement) work from this, never from per-request gets.
import { EventEmitter } from 'node:events'
import type { KV, KvEntry, QueuedIterator } from 'nats'
import { decodeJson } from './codec.js'
import type { Logger } from '../core/index.js'

export interface TableChange<T> { key: string, value: T | undefined, previous: T | undefined, revision: number }

export interface KvTableOptions<T> {
  kv: KV
  log: Logger
  /** Returns the typed value, or null when the stored value is invalid (it is then ignored). */
  decode: (value: unknown, key: string) => T | null
  /** Called for each ignored value, e.g. to count it in a metric. */
  onInvalid?: (key: string, reason: string) => void
}

/**
 * Emits 'change' (TableChange) for every change after the initial load, and
 * 'ready' once the initial values are in. `revision` is the highest KV
 * revision seen: a cheap version number of the whole table.
 */
export class KvTable<T> extends EventEmitter {
  readonly entries = new Map<string, T>()
  revision = 0
  private iter?: QueuedIterator<KvEntry>
  private loop?: Promise<void>
  private closed = false

  constructor (private readonly opts: KvTableOptions<T>) { super() }

  async start (): Promise<void> {
    let ready!: () => void
    const initialized = new Promise<void>((resolve) => { ready = resolve })
    this.iter = await this.opts.kv.watch({ key: '>', initializedFn: () => ready() })
    this.loop = this.consume(this.iter)
    await initialized
    this.emit('ready')
  }

  private async consume (iter: QueuedIterator<KvEntry>): Promise<void> {
    try {
      for await (const e of iter) this.apply(e)
    } catch (err) {
      if (!this.closed) this.opts.log.error({ err }, 'kv watch ended')
    }
  }

  private apply (e: KvEntry): void {
    if (e.revision > this.revision) this.revision = e.revision
    const previous = this.entries.get(e.key)
    let value: T | undefined
    if (e.operation === 'PUT') {
      const decoded = decodeJson(e.value)
      const typed = decoded.ok ? this.opts.decode(decoded.value, e.key) : null
      if (typed == null) {
        this.opts.onInvalid?.(e.key, decoded.ok ? 'schema' : decoded.reason)
        return
      }
      value = typed
      this.entries.set(e.key, value)
    } else {
      if (previous === undefined) return
      this.entries.delete(e.key)
    }
    this.emit('change', { key: e.key, value, previous, revision: e.revision } satisfies TableChange<T>)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.iter?.stop()
    await this.loop
  }
}
