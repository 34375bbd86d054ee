// Spread domains: a host's own id, or the value of the host label named by
// `placement.spread` (hosts without that label form one domain together).
import type { HostRecord } from '../core/index.js'
import type { HostSlot } from './capacity.js'

export function domainOf (host: HostRecord | undefined, hostId: string, spread: string): string {
  if (spread === 'host' || host === undefined) return hostId
  return host.labels[spread] ?? ''
}

/** Spread domains numbered once per spread key, so the hot loop counts in arrays. */
export class Domains {
  private readonly cache = new Map<string, { ofSlot: Int32Array, byName: Map<string, number> }>()
  constructor (private readonly slots: HostSlot[]) {}

  of (spread: string): { ofSlot: Int32Array, byName: Map<string, number> } {
    let d = this.cache.get(spread)
    if (d === undefined) {
      const byName = new Map<string, number>()
      const ofSlot = new Int32Array(this.slots.length)
      for (const s of this.slots) {
        const name = domainOf(s.rec, s.rec.host, spread)
        let i = byName.get(name)
        if (i === undefined) { i = byName.size; byName.set(name, i) }
        ofSlot[s.index] = i
      }
      d = { ofSlot, byName }
      this.cache.set(spread, d)
    }
    return d
  }
}
