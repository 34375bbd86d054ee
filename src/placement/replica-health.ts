// Each replica's health as the endpoints table shows it, and since when it
// has been unhealthy: what the replacement decision (replace.ts) needs.
// Every registry instance keeps one (the leader acts on it, any instance
// shows it in GET /v1/placement); the clock is each instance's own, so a new
// leader starts counting an unhealthy replica's time afresh — never earlier.
import { EventEmitter } from 'node:events'
import { assignmentKey, type EndpointRecord } from '../core/index.js'
import type { KvTable, TableChange } from '../bus/index.js'
import type { ReplicaStatus } from './replace.js'

const RANK: Record<ReplicaStatus, number> = { healthy: 0, starting: 1, none: 2, unhealthy: 3, missing: 4 }

/** The best health among a replica's live, routed-or-routable endpoints (draining ones are on their way out). */
export function replicaStatus (endpoints: Iterable<EndpointRecord>): ReplicaStatus {
  let best: ReplicaStatus = 'missing'
  for (const e of endpoints) {
    if (e.removed === true || e.state !== 'running') continue
    const s: ReplicaStatus = e.health
    if (RANK[s] < RANK[best]) best = s
  }
  return best
}

export interface ReplicaView { status: ReplicaStatus, unhealthySince?: number }

/** Emits 'change' (replica key) when a replica's status changes. */
export class ReplicaHealth extends EventEmitter {
  /** Replica key → endpoint keys of its containers. */
  private readonly byReplica = new Map<string, Set<string>>()
  private readonly views = new Map<string, ReplicaView>()
  private readonly onChange = (c: TableChange<EndpointRecord>): void => {
    const e = c.value ?? c.previous
    if (e !== undefined) this.update(e, c.key, c.value)
  }

  constructor (private readonly endpoints: KvTable<EndpointRecord>, private readonly now: () => number = Date.now) { super() }

  /** Call before or after the table starts; entries already loaded are read at once. */
  attach (): void {
    for (const [key, e] of this.endpoints.entries) this.update(e, key, e)
    this.endpoints.on('change', this.onChange)
  }

  detach (): void { this.endpoints.off('change', this.onChange) }

  view (replicaKey: string): ReplicaView { return this.views.get(replicaKey) ?? { status: 'missing' } }

  private update (e: EndpointRecord, endpointKey: string, value: EndpointRecord | undefined): void {
    // Only placement's replicas can be replaced.
    if (e.managed !== true || e.replica === undefined) return
    const rk = assignmentKey({ host: e.host, service: e.service, replica: e.replica })
    const set = this.byReplica.get(rk) ?? new Set<string>()
    if (value === undefined || value.removed === true) set.delete(endpointKey); else set.add(endpointKey)
    if (set.size === 0) this.byReplica.delete(rk); else this.byReplica.set(rk, set)
    const status = replicaStatus([...set].map((k) => this.endpoints.entries.get(k)).filter((x): x is EndpointRecord => x !== undefined))
    const prev = this.views.get(rk)
    if (prev?.status === status) return
    const next: ReplicaView = status === 'unhealthy' ? { status, unhealthySince: this.now() } : { status }
    if (status === 'missing') this.views.delete(rk); else this.views.set(rk, next)
    this.emit('change', rk)
  }
}
