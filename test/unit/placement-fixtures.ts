// Builders for placement tests: hosts, specs and assignments in one line each.
import { checkServiceSpec, specHash, type AssignmentRecord, type HostRecord, type HostStatus, type ServiceSpec } from '../../src/core/index.js'
import type { ScheduleResult, SpecEntry } from '../../src/placement/types.js'

const GI = 1024 ** 3

export function host (id: string, o: { cpus?: number, memGi?: number, status?: HostStatus, labels?: Record<string, string> } = {}): HostRecord {
  return {
    v: 1,
    host: id,
    instance: '00abcdefg-0a0b0c',
    capacity: { cpus: o.cpus ?? 4, memoryBytes: (o.memGi ?? 8) * GI },
    allocated: { cpus: 0, memoryBytes: 0, containers: 0 },
    labels: o.labels ?? {},
    lastSeen: 1,
    status: o.status ?? 'up',
    since: 1,
  }
}

export function spec (name: string, replicas: number, o: { cpu?: number, memory?: string, spread?: string, image?: string } = {}, version = 1): SpecEntry {
  const resources: Record<string, unknown> = {}
  if (o.cpu !== undefined) resources.cpu = o.cpu
  if (o.memory !== undefined) resources.memory = o.memory
  const s: ServiceSpec = checkServiceSpec({
    name, image: o.image ?? `${name}:1`, replicas, port: 80, network: 'mv0', resources,
    ...(o.spread !== undefined ? { placement: { spread: o.spread } } : {}),
  })
  return { spec: s, version }
}

/** "h1.web.0" → an assignment made from `entry` at time `since`. */
export function assigned (key: string, entry: SpecEntry, since = 1): AssignmentRecord {
  const [h, service, r] = key.split('.')
  return { v: 1, host: h, service, replica: Number(r), specVersion: entry.version, specHash: specHash(entry.spec), since }
}

export function keys (r: ScheduleResult): string[] {
  return r.assignments.map((a) => `${a.host}.${a.service}.${a.replica}`)
}

/** Replicas of `service` per host, e.g. { h1: 2, h2: 2 }. */
export function perHost (r: ScheduleResult, service: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const a of r.assignments) if (a.service === service) out[a.host] = (out[a.host] ?? 0) + 1
  return out
}
