// The accepted certificates. A pair from --certs is validated (loader.ts)
// and copied into the renderer's own folder (<out>/certs/), named by its
// content, so nginx only ever reads files that passed: a half-written or
// broken file in the watched folder is refused and the previous copy keeps
// serving. A pair that is gone from --certs is dropped (its hosts go back to
// HTTP only). Copies no accepted pair uses are pruned after a good reload.
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../core/index.js'
import { CertRefusal, checkCertificate, pairFingerprint, type CertRefusalReason } from './loader.js'
import { CertIndex, type CertEntry, type TlsFor } from './lookup.js'
import { scanCertDir, type ReadPair } from './scan.js'
import type { CertMetrics } from './metrics.js'

export interface Refused { source: string, reason: CertRefusalReason, message: string, fingerprint?: string }

export interface CertStoreOptions {
  dir: string
  /** The renderer's copies: <out>/certs. */
  copyDir: string
  log: Logger
  metrics?: CertMetrics
  now?: () => Date
}

/** File-name form of a source: `live/a.example.com` → `live-a.example.com` (plain characters only, see ngxpath). */
export const copyBase = (source: string): string => source.replace(/[^A-Za-z0-9.-]/g, '-')

export class CertStore {
  private entries = new Map<string, CertEntry>()
  /** Source → the entry its current one replaced, until a reload proves the new one (prune). */
  private readonly replaced = new Map<string, CertEntry>()
  private readonly refused = new Map<string, Refused>()
  private index = new CertIndex([])

  constructor (private readonly opts: CertStoreOptions) {}

  /** The certificate serving `host`, if any (exact beats wildcard). */
  certFor (host: string): TlsFor | undefined { return this.index.certFor(host) }

  /** Accepted pairs, by source. */
  accepted (): CertEntry[] { return [...this.entries.values()] }

  /** Pairs refused now (the previous copy, if any, still serves). */
  refusals (): Refused[] { return [...this.refused.values()] }

  /** Copy paths a render may print (tests, dry-run). */
  get copyDir (): string { return this.opts.copyDir }

  /**
   * Reads the folder again. `write: false` (dry-run) validates and computes
   * the copy paths without creating them. Returns whether what serves changed.
   */
  async scan ({ write = true } = {}): Promise<boolean> {
    const now = this.opts.now?.() ?? new Date()
    const next = new Map<string, CertEntry>()
    const seen = new Set<string>()
    for (const p of await scanCertDir(this.opts.dir)) {
      seen.add(p.source)
      const entry = await this.one(p, now, write)
      if (entry != null) next.set(p.source, entry)
    }
    for (const s of this.refused.keys()) if (!seen.has(s)) this.refused.delete(s)
    for (const [s, e] of this.entries) {
      if (!next.has(s)) this.opts.log.warn({ source: s, names: e.names }, 'certificate removed: its hosts are served over HTTP only')
    }
    const changed = !sameEntries(this.entries, next)
    for (const [s, e] of this.entries) if (next.get(s) !== e) this.replaced.set(s, e)
    this.entries = next
    this.index = new CertIndex(next.values())
    this.opts.metrics?.update(this.accepted(), this.refusals())
    return changed
  }

  /** The entry serving a source after this scan (new, previous, or restored copy), or null. */
  private async one (p: ReadPair, now: Date, write: boolean): Promise<CertEntry | null> {
    const prev = this.entries.get(p.source)
    if (p.cert == null || p.key == null) {
      this.refuse({ source: p.source, reason: 'unreadable', message: p.error ?? 'unreadable' }, prev)
      return prev ?? await this.restore(p.source, now)
    }
    const fp = pairFingerprint(p.cert, p.key)
    if (prev?.fingerprint === fp) { this.refused.delete(p.source); return prev }
    if (this.refused.get(p.source)?.fingerprint === fp) return prev ?? null
    try {
      const info = checkCertificate(p.cert, p.key, now)
      const base = join(this.opts.copyDir, `${copyBase(p.source)}-${fp.slice(0, 16)}`)
      const entry: CertEntry = { source: p.source, ...info, cert: `${base}.crt`, key: `${base}.key` }
      if (write) await this.copy(entry, p.cert, p.key)
      this.refused.delete(p.source)
      this.opts.log.info({ source: p.source, names: info.names, notAfter: info.notAfter.toISOString(), renewed: prev != null }, 'certificate accepted')
      return entry
    } catch (err) {
      if (!(err instanceof CertRefusal)) throw err
      this.refuse({ source: p.source, reason: err.reason, message: err.message, fingerprint: fp }, prev)
      return prev ?? await this.restore(p.source, now)
    }
  }

  /**
   * nginx -t refused a configuration naming copies of accepted pairs (a key
   * nginx's OpenSSL will not load, e.g. below its security level): those
   * sources go back to what they served before (or to HTTP only), refused
   * until their files change. Returns whether any pair was named.
   */
  refuseServed (nginxOutput: string): boolean {
    let any = false
    for (const e of this.accepted()) {
      if (!nginxOutput.includes(e.cert) && !nginxOutput.includes(e.key)) continue
      any = true
      const line = nginxOutput.split('\n').find((l) => l.includes(e.cert) || l.includes(e.key)) ?? nginxOutput
      const prev = this.replaced.get(e.source)
      this.replaced.delete(e.source)
      this.refuse({ source: e.source, reason: 'nginx', message: `nginx -t: ${line.trim().slice(0, 300)}`, fingerprint: e.fingerprint }, prev)
      if (prev != null) this.entries.set(e.source, prev)
      else this.entries.delete(e.source)
    }
    if (any) {
      this.index = new CertIndex(this.entries.values())
      this.opts.metrics?.update(this.accepted(), this.refusals())
    }
    return any
  }

  private refuse (r: Refused, prev: CertEntry | undefined): void {
    const old = this.refused.get(r.source)
    this.refused.set(r.source, r)
    if (old?.message === r.message && old.fingerprint === r.fingerprint) return
    this.opts.metrics?.refusals.inc({ reason: r.reason })
    this.opts.log.error({ source: r.source, reason: r.reason, detail: r.message, kept: prev?.fingerprint.slice(0, 16) ?? null },
      prev != null ? 'certificate refused: the previous one keeps serving' : 'certificate refused: its hosts stay HTTP only')
  }

  /**
   * After a restart with a broken pair in --certs: the newest valid copy this
   * renderer accepted before for that source keeps serving.
   */
  private async restore (source: string, now: Date): Promise<CertEntry | null> {
    const prefix = `${copyBase(source)}-`
    let best: CertEntry | null = null
    let bestRank: number[] = []
    for (const f of await readdir(this.opts.copyDir).catch(() => [] as string[])) {
      if (!f.startsWith(prefix) || !f.endsWith('.crt') || !/^[0-9a-f]{16}$/.test(f.slice(prefix.length, -4))) continue
      const base = join(this.opts.copyDir, f.slice(0, -4))
      try {
        const [c, k, st] = await Promise.all([readFile(`${base}.crt`), readFile(`${base}.key`), stat(`${base}.crt`)])
        const info = checkCertificate(c, k, now)
        // newest: latest expiry, then latest issue, then the copy written last
        // (a renewal issued in the same second as its predecessor ties on both)
        const rank = [info.notAfter.getTime(), info.notBefore.getTime(), st.mtimeMs]
        if (best == null || laterRank(rank, bestRank)) { best = { source, ...info, cert: `${base}.crt`, key: `${base}.key` }; bestRank = rank }
      } catch { /* not usable: ignore */ }
    }
    if (best != null) this.opts.log.warn({ source, notAfter: best.notAfter.toISOString() }, 'serving the copy accepted before')
    return best
  }

  private async copy (e: CertEntry, cert: Buffer, key: Buffer): Promise<void> {
    await mkdir(this.opts.copyDir, { recursive: true, mode: 0o755 })
    await writeAtomic(e.cert, cert, 0o644)
    await writeAtomic(e.key, key, 0o600)
  }

  /** Deletes copies no accepted pair uses (after a reload that no longer reads them). */
  async prune (): Promise<void> {
    this.replaced.clear()
    const used = new Set(this.accepted().flatMap((e) => [e.cert, e.key]))
    for (const f of await readdir(this.opts.copyDir).catch(() => [] as string[])) {
      if (!/-[0-9a-f]{16}\.(crt|key)$/.test(f)) continue
      const p = join(this.opts.copyDir, f)
      if (!used.has(p)) await unlink(p).catch(() => undefined)
    }
  }
}

function laterRank (a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] > b[i]
  return false
}

function sameEntries (a: Map<string, CertEntry>, b: Map<string, CertEntry>): boolean {
  if (a.size !== b.size) return false
  for (const [s, e] of a) if (b.get(s)?.fingerprint !== e.fingerprint || b.get(s)?.cert !== e.cert) return false
  return true
}

async function writeAtomic (path: string, data: Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  const fh = await open(tmp, 'w', mode)
  try {
    await fh.chmod(mode) // open's mode is masked by the umask
    await fh.writeFile(data)
    await fh.sync()
  } finally { await fh.close() }
  await rename(tmp, path)
}
