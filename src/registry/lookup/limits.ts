// Caps on parked blocking queries: one client (by source address) cannot
// hold more than `perClient` of them, and the whole registry no more than
// `global`. A parked query costs a socket, a closure and a timer for up to
// ten minutes, so without a cap a single client could hold the event loop's
// memory hostage. Over a cap the request gets 429 at once; plain reads are
// never limited here.
import { Counter, type Registry } from 'prom-client'
import { TooManyRequestsError } from '../../core/index.js'

export interface WaiterLimitsOptions {
  /** Parked blocking queries across all clients. */
  global: number
  /** Parked blocking queries per client address. */
  perClient: number
  metrics: Registry
}

export const DEFAULT_MAX_BLOCKING = 8192
export const DEFAULT_MAX_BLOCKING_PER_CLIENT = 256

export class WaiterLimits {
  private readonly byClient = new Map<string, number>()
  private total = 0
  private readonly refused: Counter<'scope'>

  constructor (private readonly opts: WaiterLimitsOptions) {
    this.refused = new Counter({
      name: 'driftgate_lookup_blocking_refused_total',
      help: 'Blocking queries refused with 429 because a cap on parked queries was reached, by scope (client or global)',
      labelNames: ['scope'], registers: [opts.metrics],
    })
    this.refused.inc({ scope: 'client' }, 0)
    this.refused.inc({ scope: 'global' }, 0)
  }

  /** Takes a slot for `client`; returns its release (idempotent) or throws TooManyRequestsError. */
  acquire (client: string): () => void {
    const mine = this.byClient.get(client) ?? 0
    if (mine >= this.opts.perClient) {
      this.refused.inc({ scope: 'client' })
      throw new TooManyRequestsError(`too many parked blocking queries from ${client} (limit ${this.opts.perClient}); ` +
        'wait for one to return or poll without ?index=')
    }
    if (this.total >= this.opts.global) {
      this.refused.inc({ scope: 'global' })
      throw new TooManyRequestsError(`too many parked blocking queries on this registry (limit ${this.opts.global}); retry later`)
    }
    this.byClient.set(client, mine + 1)
    this.total++
    let released = false
    return () => {
      if (released) return
      released = true
      this.total--
      const n = (this.byClient.get(client) ?? 1) - 1
      if (n <= 0) this.byClient.delete(client)
      else this.byClient.set(client, n)
    }
  }

  get parked (): number { return this.total }
}
