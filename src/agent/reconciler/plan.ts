// What the host must do to run exactly its assignments. Pure.
//  - a replica with no container at its spec hash is created;
//  - a replica whose container runs an older spec is replaced (rolling:
//    start new, wait ready, drain old, stop old — the executor does one at a time);
//  - containers no replica claims (unassigned, duplicates) are removed,
//    drained first when running;
//  - a replica whose incarnation placement bumped (an unhealthy replica
//    replaced, issue 19) is replaced the same way: its container's
//    incarnation label no longer matches;
//  - a replica whose spec record does not (yet) match the assignment's hash
//    is left alone: the services table catches up within moments.
import type { ServiceSpec } from '../../core/index.js'
import type { ManagedContainer } from './container-spec.js'

export interface HostAssignment {
  service: string
  replica: number
  specHash: string
  /** Placement's replacement count (absent: 0). */
  incarnation?: number
  /** The spec whose hash is specHash, or null while the services table lags. */
  spec: ServiceSpec | null
}

export type Action =
  | { kind: 'create', service: string, replica: number, specHash: string, spec: ServiceSpec, incarnation: number }
  | { kind: 'start', container: ManagedContainer }
  | { kind: 'replace', service: string, replica: number, specHash: string, spec: ServiceSpec, incarnation: number, current?: ManagedContainer, old: ManagedContainer[] }
  | { kind: 'remove', container: ManagedContainer, reason: 'unassigned' | 'duplicate' | 'outdated' }

const slot = (service: string, replica: number): string => `${service}.${replica}`

export function plan (assignments: HostAssignment[], containers: ManagedContainer[]): Action[] {
  const bySlot = new Map<string, ManagedContainer[]>()
  for (const c of containers) {
    const k = slot(c.service, c.replica)
    bySlot.set(k, [...(bySlot.get(k) ?? []), c])
  }
  const actions: Action[] = []
  const claimed = new Set<string>()
  for (const a of assignments) {
    const k = slot(a.service, a.replica)
    claimed.add(k)
    const cs = bySlot.get(k) ?? []
    if (a.spec === null) continue
    const inc = a.incarnation ?? 0
    const wanted = (c: ManagedContainer): boolean => c.specHash === a.specHash && c.incarnation === inc
    const current = cs.filter(wanted)
      .sort((x, y) => Number(y.running) - Number(x.running) || y.created - x.created)
    const old = cs.filter((c) => !wanted(c))
    const keep = current[0]
    for (const dup of current.slice(1)) actions.push({ kind: 'remove', container: dup, reason: 'duplicate' })
    for (const o of old.filter((c) => !c.running)) actions.push({ kind: 'remove', container: o, reason: 'outdated' })
    const oldRunning = old.filter((c) => c.running)
    if (oldRunning.length > 0) {
      actions.push({ kind: 'replace', service: a.service, replica: a.replica, specHash: a.specHash, spec: a.spec, incarnation: inc, current: keep, old: oldRunning })
    } else if (keep === undefined) {
      actions.push({ kind: 'create', service: a.service, replica: a.replica, specHash: a.specHash, spec: a.spec, incarnation: inc })
    } else if (!keep.running) {
      actions.push({ kind: 'start', container: keep })
    }
  }
  for (const [k, cs] of bySlot) {
    if (claimed.has(k)) continue
    for (const c of cs) actions.push({ kind: 'remove', container: c, reason: 'unassigned' })
  }
  return actions
}
