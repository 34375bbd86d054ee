// Heartbeats every couple of seconds: liveness, capacity (CPUs and memory from
// `docker info`) and what running containers reserve (HostConfig NanoCpus/Memory).
import type Dockerode from 'dockerode'
import type { Allocated, Capacity, HeartbeatMessage, Logger } from '../core/index.js'
import type { Reservations } from './docker/reservations.js'

export interface HeartbeatOptions {
  docker: Dockerode
  reservations: Reservations
  log: Logger
  intervalMs: number
  build: (capacity: Capacity, allocated: Allocated) => HeartbeatMessage
  send: (msg: HeartbeatMessage) => void
}

export class Heartbeat {
  private timer?: NodeJS.Timeout
  private capacity: Capacity = { cpus: 0, memoryBytes: 0 }
  private capacityAt = 0
  private busy = false

  constructor (private readonly o: HeartbeatOptions) {}

  start (): void {
    void this.beat()
    this.timer = setInterval(() => { void this.beat() }, this.o.intervalMs)
  }

  /** Forces a capacity refresh on the next beat (after a Docker reconnect). */
  invalidate (): void { this.capacityAt = 0 }

  async beat (): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      if (Date.now() - this.capacityAt > 60_000) {
        try {
          const info = await this.o.docker.info() as { NCPU?: number, MemTotal?: number }
          this.capacity = { cpus: info.NCPU ?? 0, memoryBytes: info.MemTotal ?? 0 }
          this.capacityAt = Date.now()
        } catch (err) {
          this.o.log.debug({ err: (err as Error).message }, 'docker info failed; heartbeat keeps the last capacity')
        }
      }
      this.o.send(this.o.build(this.capacity, await this.o.reservations.allocated()))
    } finally { this.busy = false }
  }

  close (): void { clearInterval(this.timer) }
}
