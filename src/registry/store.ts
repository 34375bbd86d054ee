// A KV bucket as the registry writes it: an in-memory mirror (bus KvTable)
// plus the KV revision of every key, so that each write is a compare-and-set
// against the revision the decision was made on, without a read per write.
import type { KV } from 'nats'
import { KvTable, decodeJson, encodeJson } from '../bus/index.js'
import type { FieldProblem, Logger } from '../core/index.js'
import { CasWriter } from './cas-writer.js'
import type { JsWriter } from './js-writer.js'

export interface Versioned<T> { value: T | null, revision: number }

/** True when a CAS write lost: the key changed since the revision we wrote against. */
export function isCasConflict (err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }, details?: { err_code?: number }, message?: string }
  return e?.api_error?.err_code === 10071 || e?.details?.err_code === 10071 || /wrong last sequence/i.test(e?.message ?? '')
}

export interface StoreOptions<T> {
  kv: KV
  log: Logger
  problems: (v: unknown) => FieldProblem[] | null
  /** Secondary index (e.g. the host of a live endpoint); null = not indexed. */
  indexOf?: (v: T) => string | null
  onInvalid?: (key: string, reason: string) => void
  /** Writes go through this pipelined writer (started and closed by its owner). */
  writer: JsWriter
}

export class VersionedStore<T> {
  private readonly map = new Map<string, Versioned<T>>()
  private readonly index = new Map<string, Set<string>>()
  /**
   * Writes of ours the watch has not brought back yet, by revision (a busy
   * watch lags several writes of one key behind); taken out when it does.
   */
  private readonly written = new Map<number, { key: string, value: T }>()
  /** Writes of ours awaiting the server's answer, by key. */
  private readonly writing = new Map<string, { data: Uint8Array, value: T }>()
  readonly table: KvTable<T>
  private readonly writer: CasWriter

  constructor (private readonly opts: StoreOptions<T>) {
    this.writer = new CasWriter(opts.writer, opts.kv)
    this.table = new KvTable<T>({
      kv: opts.kv,
      log: opts.log,
      decode: (v) => (opts.problems(v) == null ? v as T : null),
      onInvalid: opts.onInvalid,
      // Our own writes come back through the watch (often before the put's
      // answer): the same bytes as a write of ours need no parse and check.
      known: (key, revision, data) => {
        const done = this.written.get(revision)
        if (done != null) { this.written.delete(revision); if (done.key === key) return done.value }
        const w = this.writing.get(key)
        return w != null && Buffer.compare(w.data, data) === 0 ? w.value : undefined
      },
    })
    this.table.on('change', (c: { key: string, value: T | undefined, revision: number }) => {
      this.observe(c.key, c.value ?? null, c.revision)
    })
  }

  async start (): Promise<void> { await this.table.start() }
  async close (): Promise<void> { await this.table.close() }

  get (key: string): Versioned<T> | undefined { return this.map.get(key) }

  entries (): IterableIterator<[string, Versioned<T>]> { return this.map.entries() }

  *values (): Iterable<T> {
    for (const v of this.map.values()) if (v.value != null) yield v.value
  }

  /** Keys whose value indexes to `name` (e.g. live endpoints of one host). */
  keysFor (name: string): string[] { return [...(this.index.get(name) ?? [])] }

  /** Records a value seen at a revision; older news (a lagging watch) is ignored. */
  observe (key: string, value: T | null, revision: number): void {
    const cur = this.map.get(key)
    if (cur != null && cur.revision >= revision) return
    if (cur?.value != null) this.unindex(key, cur.value)
    this.map.set(key, { value, revision })
    if (value != null) {
      const name = this.opts.indexOf?.(value)
      if (name != null) {
        let set = this.index.get(name)
        if (set == null) this.index.set(name, set = new Set())
        set.add(key)
      }
    }
  }

  private unindex (key: string, value: T): void {
    const name = this.opts.indexOf?.(value)
    if (name == null) return
    const set = this.index.get(name)
    set?.delete(key)
    if (set?.size === 0) this.index.delete(name)
  }

  /** Reads one key from the server (after a lost CAS). Invalid stored values read as absent. */
  async refresh (key: string): Promise<Versioned<T>> {
    const e = await this.opts.kv.get(key)
    if (e == null) return this.map.get(key) ?? { value: null, revision: 0 }
    let value: T | null = null
    if (e.operation === 'PUT') {
      const d = decodeJson(e.value)
      value = d.ok && this.opts.problems(d.value) == null ? d.value as T : null
    }
    const cur = this.map.get(key)
    // A key whose stored value is invalid is overwritten at its real revision.
    if (cur == null || cur.revision < e.revision || value == null) {
      if (cur?.value != null) this.unindex(key, cur.value)
      this.map.set(key, { value: null, revision: 0 })
      this.observe(key, value, e.revision)
    }
    return this.map.get(key) as Versioned<T>
  }

  /** CAS write against `revision` (0 = key must not exist); throws on conflict (see isCasConflict). */
  async write (key: string, value: T, revision: number): Promise<number> {
    const w = { data: encodeJson(value), value }
    this.writing.set(key, w)
    try {
      const rev = await this.writer.put(key, w.data, revision)
      // Bounded: should the watch skip revisions (re-opened after a fault), forget them all.
      if (this.written.size >= 100_000) this.written.clear()
      if (rev > this.table.revision) this.written.set(rev, { key, value })
      this.observe(key, value, rev)
      return rev
    } finally {
      if (this.writing.get(key) === w) this.writing.delete(key)
    }
  }

  /** CAS delete (tombstone GC): only if the key is still at `revision`. */
  async remove (key: string, revision: number): Promise<void> {
    await this.opts.kv.delete(key, { previousSeq: revision })
  }

  /** Waits until the mirror has seen every write made before now (e.g. before a snapshot). */
  async sync (timeoutMs = 5000): Promise<boolean> {
    const target = (await this.opts.kv.status()).streamInfo.state.last_seq
    const deadline = Date.now() + timeoutMs
    while (this.table.revision < target) {
      if (Date.now() > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return true
  }
}
