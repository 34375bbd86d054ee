// How much snapshot the registry decodes and applies at once. A fill (every
// host sending its snapshot at once: 1,000 × 50 endpoints) used to start all
// of them together: 50,000 decisions, records, encoded bytes, CAS requests
// and their answers alive at the same moment. That burst, not the table, set
// the registry's RSS (docs/scaling.md "Memory by size, session 8"). A few
// thousand writes in flight keep the KV pipeline full; the rest wait here as
// the raw messages they arrived in, not yet decoded (acked later, kept alive
// by Nats-Ack working meanwhile).
// A weighted FIFO semaphore: a snapshot weighs its size in bytes (known
// before it is decoded; ~300 B per endpoint as the agent sends them, so the
// default is ~2,000 endpoints); one larger than the whole capacity runs
// alone rather than never.

export const SNAPSHOT_BYTES_IN_FLIGHT = 600 * 1024

export class SnapshotGate {
  private used = 0
  private readonly queue: Array<{ weight: number, start: () => void }> = []

  constructor (readonly capacity = SNAPSHOT_BYTES_IN_FLIGHT) {}

  /** Weight (bytes) of the snapshots running now. */
  get inFlight (): number { return this.used }
  /** Snapshots waiting for room. */
  get waiting (): number { return this.queue.length }

  /** Runs `task` once `weight` fits (in arrival order); its room is given back when it settles. */
  async run<T> (weight: number, task: () => Promise<T>): Promise<T> {
    const w = Math.max(1, Math.min(weight, this.capacity))
    if (this.queue.length > 0 || this.used + w > this.capacity) {
      await new Promise<void>((resolve) => { this.queue.push({ weight: w, start: resolve }) })
    } else {
      this.used += w
    }
    try {
      return await task()
    } finally {
      this.used -= w
      this.next()
    }
  }

  // FIFO: the head waits for room even if a smaller one behind it would fit, so a big snapshot is never starved.
  private next (): void {
    while (this.queue.length > 0 && this.used + this.queue[0].weight <= this.capacity) {
      const head = this.queue.shift() as { weight: number, start: () => void }
      this.used += head.weight
      head.start()
    }
  }
}
