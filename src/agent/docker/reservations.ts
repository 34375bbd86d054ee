// What running containers reserve (HostConfig NanoCpus/Memory), kept per
// container from events and lists; heartbeats report the sum.
import type Dockerode from 'dockerode'
import type { Allocated } from '../../core/index.js'
import type { ContainerInspect } from './endpoint.js'

export interface Reservation { cpus: number, memoryBytes: number }

export function reservationOf (c: ContainerInspect): Reservation {
  return { cpus: (c.HostConfig?.NanoCpus ?? 0) / 1e9, memoryBytes: c.HostConfig?.Memory ?? 0 }
}

/** Pure sum of the known reservations. */
export function sumAllocated (reservations: Iterable<Reservation | undefined>): Allocated {
  const out: Allocated = { cpus: 0, memoryBytes: 0, containers: 0 }
  for (const r of reservations) {
    out.containers++
    if (r == null) continue
    out.cpus += r.cpus
    out.memoryBytes += r.memoryBytes
  }
  out.cpus = Math.round(out.cpus * 1000) / 1000
  return out
}

/** Running containers and their reservations; unknown ones are inspected lazily, a few per beat. */
export class Reservations {
  private readonly running = new Map<string, Reservation | undefined>()

  constructor (private readonly docker: Dockerode) {}

  seen (c: ContainerInspect): void {
    if (c.State?.Running === true) this.running.set(c.Id, reservationOf(c))
    else this.running.delete(c.Id)
  }

  stopped (id: string): void { this.running.delete(id) }

  isRunning (id: string): boolean { return this.running.has(id) }

  started (id: string): void { if (!this.running.has(id)) this.running.set(id, undefined) }

  /** The truth from a container list: forget what is gone, remember what is new. */
  resetRunning (ids: string[]): void {
    const keep = new Set(ids)
    for (const id of this.running.keys()) if (!keep.has(id)) this.running.delete(id)
    for (const id of ids) this.started(id)
  }

  async allocated (maxInspects = 20): Promise<Allocated> {
    const unknown = [...this.running].filter(([, r]) => r === undefined).slice(0, maxInspects).map(([id]) => id)
    await Promise.all(unknown.map(async (id) => {
      try { this.seen(await this.docker.getContainer(id).inspect() as unknown as ContainerInspect) } catch { /* next beat */ }
    }))
    return sumAllocated(this.running.values())
  }
}
