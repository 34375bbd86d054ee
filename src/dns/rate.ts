// Responses per client address: a token bucket per source IP (DNS over UDP
// has no handshake, so the source is all there is). Refilled lazily on each
// query, so an idle client costs one map entry and no timer. The map is
// bounded: past `maxClients` entries, full (idle) buckets are swept, and if
// that is not enough the map starts over (a flood from many spoofed sources
// cannot be limited per source anyway; the kernel's socket buffer is the
// last bound then).

export interface RateLimitOptions {
  /** Responses per second per client; 0 turns the limit off. */
  rate: number
  /** Responses a client may get at once after being idle. */
  burst: number
  maxClients?: number
  now?: () => number
}

interface Bucket { tokens: number, at: number }

export class ClientRateLimit {
  private readonly buckets = new Map<string, Bucket>()
  private readonly perMs: number
  private readonly burst: number
  private readonly maxClients: number
  private readonly now: () => number

  constructor (opts: RateLimitOptions) {
    this.perMs = opts.rate / 1000
    this.burst = Math.max(1, opts.burst)
    this.maxClients = opts.maxClients ?? 100_000
    this.now = opts.now ?? Date.now
  }

  get enabled (): boolean { return this.perMs > 0 }

  /** Takes one token for `client`; false when it has none left (drop the response). */
  take (client: string): boolean {
    if (this.perMs <= 0) return true
    const now = this.now()
    let b = this.buckets.get(client)
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) this.sweep(now)
      b = { tokens: this.burst, at: now }
      this.buckets.set(client, b)
    } else if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs)
      b.at = now
    }
    if (b.tokens < 1) return false
    b.tokens--
    return true
  }

  private sweep (now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.buckets.delete(k)
    }
    if (this.buckets.size >= this.maxClients) this.buckets.clear()
  }

  get clients (): number { return this.buckets.size }
}
