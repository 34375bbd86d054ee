// GET /v1/placement: what placement wants and why some of it cannot be.
// Any registry instance answers it from its own mirrors: the scheduler is a
// deterministic function, so re-running it over the current tables yields
// the leader's unschedulable list without the leader publishing anything.
import { specDemand, type AssignmentRecord, type HostRecord, type ServiceRecord } from '../core/index.js'
import { schedule } from './scheduler.js'
import type { LeaseView } from './leader.js'
import type { Unschedulable } from './types.js'
import type { Decision } from './replace.js'
import type { AutoscaleView } from './autoscale/status.js'

export interface ServicePlacement {
  name: string
  version: number
  desired: number
  /** Replicas that have a host now. */
  assigned: number
  /** Replicas per host. */
  hosts: Record<string, number>
}

export interface HostPlacement {
  host: string
  status: string
  labels: Record<string, string>
  capacity: { cpus: number, memoryBytes: number }
  /** Booked by assignments (what placement counts against capacity). */
  used: { cpus: number, memoryBytes: number }
  replicas: number
}

export interface PlacementStatus {
  leader: { holder: string | null, expiresAt: number | null }
  failStatic: boolean
  services: ServicePlacement[]
  hosts: HostPlacement[]
  unschedulable: Unschedulable[]
  /** Unhealthy replicas and what placement does about them (issue 19): replace, replacing, waiting, backoff, capped. */
  replacements?: Decision[]
  /** Autoscaled services: range, targets, metric values, the leader's last decision (filled by the route). */
  autoscale?: AutoscaleView[]
}

export function placementStatus (input: {
  services: Iterable<ServiceRecord>, hosts: Iterable<HostRecord>, assignments: Iterable<AssignmentRecord>, lease: LeaseView
  replacements?: Decision[]
}): PlacementStatus {
  const services = [...input.services]
  const hosts = [...input.hosts]
  const assignments = [...input.assignments]
  const result = schedule({ specs: services, hosts, assignments })
  const byName = new Map(services.map((s) => [s.spec.name, s]))
  const used = new Map<string, HostPlacement['used'] & { replicas: number }>()
  const perService = new Map<string, Record<string, number>>()
  for (const a of assignments) {
    const rec = byName.get(a.service)
    const d = rec !== undefined ? specDemand(rec.spec) : { cpus: 0, memoryBytes: 0 }
    const u = used.get(a.host) ?? { cpus: 0, memoryBytes: 0, replicas: 0 }
    u.cpus += d.cpus; u.memoryBytes += d.memoryBytes; u.replicas++
    used.set(a.host, u)
    const ph = perService.get(a.service) ?? {}
    ph[a.host] = (ph[a.host] ?? 0) + 1
    perService.set(a.service, ph)
  }
  const sum = (r: Record<string, number>): number => Object.values(r).reduce((x, y) => x + y, 0)
  return {
    leader: { holder: input.lease.holder, expiresAt: input.lease.expiresAt },
    failStatic: result.failStatic,
    services: services.sort((a, b) => a.spec.name.localeCompare(b.spec.name)).map((s) => {
      const ph = perService.get(s.spec.name) ?? {}
      return { name: s.spec.name, version: s.version, desired: s.spec.replicas, assigned: sum(ph), hosts: ph }
    }),
    hosts: hosts.sort((a, b) => a.host.localeCompare(b.host)).map((h) => {
      const u = used.get(h.host) ?? { cpus: 0, memoryBytes: 0, replicas: 0 }
      return {
        host: h.host, status: h.status, labels: h.labels, capacity: h.capacity,
        used: { cpus: u.cpus, memoryBytes: u.memoryBytes }, replicas: u.replicas,
      }
    }),
    unschedulable: result.unschedulable,
    replacements: input.replacements ?? [],
  }
}
