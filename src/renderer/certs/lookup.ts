// Which accepted certificate serves a host (pure). An exact name beats a
// wildcard; a wildcard `*.example.com` covers exactly one label. When two
// certificates claim a name, the one valid longest wins, then the first
// source by name: the choice never depends on scan order.

/** What a template needs to serve a host over TLS (paths are the renderer's own copies). */
export interface TlsFor {
  cert: string
  key: string
  names: string[]
  notAfter: Date
}

export interface CertEntry extends TlsFor {
  /** Place of the pair in the --certs folder (`live/<name>` or the plain file's base name). */
  source: string
  notBefore: Date
  fingerprint: string
}

function better (a: CertEntry, b: CertEntry | undefined): boolean {
  if (b == null) return true
  if (a.notAfter.getTime() !== b.notAfter.getTime()) return a.notAfter.getTime() > b.notAfter.getTime()
  return a.source < b.source
}

export class CertIndex {
  private readonly exact = new Map<string, CertEntry>()
  /** Parent domain of a wildcard name (`example.com` for `*.example.com`) → entry. */
  private readonly wild = new Map<string, CertEntry>()

  constructor (entries: Iterable<CertEntry>) {
    for (const e of entries) {
      for (const n of e.names) {
        // a route for `*.example.com` itself looks up the wildcard name exactly
        if (better(e, this.exact.get(n))) this.exact.set(n, e)
        if (n.startsWith('*.') && better(e, this.wild.get(n.slice(2)))) this.wild.set(n.slice(2), e)
      }
    }
  }

  certFor (host: string): TlsFor | undefined {
    const h = host.toLowerCase()
    const hit = this.exact.get(h)
    if (hit != null) return view(hit)
    const dot = h.indexOf('.')
    if (dot <= 0 || h.startsWith('*.')) return undefined
    const w = this.wild.get(h.slice(dot + 1))
    return w == null ? undefined : view(w)
  }
}

function view (e: CertEntry): TlsFor {
  return { cert: e.cert, key: e.key, names: e.names, notAfter: e.notAfter }
}
