// Finds certificate + key pairs in the --certs folder and reads them. Two
// layouts, both by file name only (the names a certificate covers come from
// the certificate itself, see loader.ts):
//   certbot:  live/<name>/fullchain.pem + live/<name>/privkey.pem (symlinks into archive/)
//   plain:    <name>.crt + <name>.key   (and mkcert's <name>.pem + <name>-key.pem)
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** One pair as found on disk. `source` is stable across renewals (the pair's place in the folder). */
export interface CertSource {
  source: string
  certPath: string
  keyPath: string
}

export interface ReadPair extends CertSource {
  cert?: Buffer
  key?: Buffer
  /** Why the files could not be read (missing half, too large, not a file). */
  error?: string
}

/** A certificate chain or key is a few KB: anything larger is not one. */
export const MAX_PEM_BYTES = 1024 * 1024

async function names (dir: string): Promise<string[]> {
  try { return (await readdir(dir)).sort() } catch { return [] }
}

/** The pairs of a folder (pure over its listing). */
export function pairsOf (top: string[], live: Map<string, string[]>, dir: string): CertSource[] {
  const out: CertSource[] = []
  const have = new Set(top)
  for (const f of top) {
    if (f.startsWith('.')) continue
    if (f.endsWith('.crt')) {
      const base = f.slice(0, -4)
      out.push({ source: base, certPath: join(dir, f), keyPath: join(dir, `${base}.key`) })
    } else if (f.endsWith('.pem') && !f.endsWith('-key.pem') && have.has(`${f.slice(0, -4)}-key.pem`)) {
      const base = f.slice(0, -4)
      out.push({ source: base, certPath: join(dir, f), keyPath: join(dir, `${base}-key.pem`) })
    }
  }
  for (const [name, files] of live) {
    if (name.startsWith('.') || !files.includes('fullchain.pem')) continue
    const d = join(dir, 'live', name)
    out.push({ source: `live/${name}`, certPath: join(d, 'fullchain.pem'), keyPath: join(d, 'privkey.pem') })
  }
  return out.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
}

async function readSmall (path: string): Promise<Buffer> {
  const s = await stat(path) // follows certbot's symlinks
  if (!s.isFile()) throw new Error(`${path} is not a file`)
  if (s.size > MAX_PEM_BYTES) throw new Error(`${path} is larger than ${MAX_PEM_BYTES} bytes`)
  return await readFile(path)
}

/** Lists and reads every pair of `dir` (a missing folder has none). */
export async function scanCertDir (dir: string): Promise<ReadPair[]> {
  const top = await names(dir)
  const live = new Map<string, string[]>()
  if (top.includes('live')) {
    for (const n of await names(join(dir, 'live'))) live.set(n, await names(join(dir, 'live', n)))
  }
  return await Promise.all(pairsOf(top, live, dir).map(async (p): Promise<ReadPair> => {
    try {
      const [cert, key] = await Promise.all([readSmall(p.certPath), readSmall(p.keyPath)])
      return { ...p, cert, key }
    } catch (err) {
      return { ...p, error: (err as Error).message }
    }
  }))
}
