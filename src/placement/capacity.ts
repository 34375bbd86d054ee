// Free capacity per host as the scheduler books replicas onto it, and the
// human reason when a replica fits nowhere.
import type { HostRecord } from '../core/index.js'

export interface Demand { cpus: number, memoryBytes: number }

// Sums of fractional CPUs drift; a replica that fits on paper must fit here.
const EPSILON = 1e-9

export class HostSlot {
  freeCpus: number
  freeMemory: number
  /** Free share of memory plus free share of CPU (0..2): how empty the host is. */
  freeShare = 0
  constructor (readonly rec: HostRecord, readonly index = 0) {
    this.freeCpus = rec.capacity.cpus
    this.freeMemory = rec.capacity.memoryBytes
    this.updateShare()
  }

  fits (d: Demand): boolean {
    return d.cpus <= this.freeCpus + EPSILON && d.memoryBytes <= this.freeMemory + EPSILON
  }

  book (d: Demand): void { this.freeCpus -= d.cpus; this.freeMemory -= d.memoryBytes; this.updateShare() }
  release (d: Demand): void { this.freeCpus += d.cpus; this.freeMemory += d.memoryBytes; this.updateShare() }
  private updateShare (): void {
    const c = this.rec.capacity
    this.freeShare = (c.memoryBytes > 0 ? this.freeMemory / c.memoryBytes : 0) + (c.cpus > 0 ? this.freeCpus / c.cpus : 0)
  }

  overcommitted (): boolean { return this.freeCpus < -EPSILON || this.freeMemory < -EPSILON }
}

/** 68719476736 → "64Gi", 268435456 → "256Mi", 1500 → "1500B" (binary units, as specs write them). */
export function formatBytes (n: number): string {
  const units = ['Ti', 'Gi', 'Mi', 'Ki'] as const
  const sizes = [1024 ** 4, 1024 ** 3, 1024 ** 2, 1024]
  for (let i = 0; i < units.length; i++) {
    if (Math.abs(n) >= sizes[i]) return `${trim(n / sizes[i])}${units[i]}`
  }
  return `${Math.max(0, Math.round(n))}B`
}

function trim (x: number): string {
  return String(Math.round(x * 10) / 10)
}

export function formatCpus (n: number): string { return trim(Math.max(0, n)) }

/**
 * Why a replica with this demand fits on none of the `up` hosts. Names the
 * resource that is short and the best host for it, so the operator knows how
 * far off the request is.
 */
export function unfitReason (d: Demand, upSlots: HostSlot[], allHosts: HostRecord[]): string {
  if (upSlots.length === 0) {
    if (allHosts.length === 0) return 'no hosts are known: start an agent on each Docker host'
    const states = allHosts.slice(0, 5).map((h) => `${h.host} ${h.status}`).join(', ')
    return `no host is up (${states}${allHosts.length > 5 ? ', ...' : ''})`
  }
  const byMem = maxBy(upSlots, (s) => s.freeMemory)
  const byCpu = maxBy(upSlots, (s) => s.freeCpus)
  if (d.memoryBytes > byMem.freeMemory + EPSILON) {
    return `needs ${formatBytes(d.memoryBytes)} memory, largest free is ${formatBytes(Math.max(0, byMem.freeMemory))} on ${byMem.rec.host}`
  }
  if (d.cpus > byCpu.freeCpus + EPSILON) {
    return `needs ${formatCpus(d.cpus)} cpu, largest free is ${formatCpus(byCpu.freeCpus)} on ${byCpu.rec.host}`
  }
  return `needs ${formatCpus(d.cpus)} cpu and ${formatBytes(d.memoryBytes)} memory on one host; ` +
    `most memory free: ${byMem.rec.host} (${formatBytes(byMem.freeMemory)}, ${formatCpus(byMem.freeCpus)} cpu), ` +
    `most cpu free: ${byCpu.rec.host} (${formatCpus(byCpu.freeCpus)} cpu, ${formatBytes(byCpu.freeMemory)})`
}

function maxBy<T> (items: T[], f: (t: T) => number): T {
  let best = items[0]
  let bestV = f(best)
  for (let i = 1; i < items.length; i++) {
    const v = f(items[i])
    if (v > bestV) { best = items[i]; bestV = v }
  }
  return best
}
