// Runs the agent's own HTTP checks: one timer per checked container, a probe
// every interval, the state machine (state.ts) deciding. A change of health
// is handed to `onChange`, which publishes it through the agent's normal
// event path (an upsert with the new `health`). The handler and snapshots
// tell the monitor which containers to check (`observe`) and which are gone
// (`forget`, `retain`).
import { Counter, type Registry } from 'prom-client'
import type { Health, Logger } from '../../core/index.js'
import type { HttpCheck } from './labels.js'
import { probeHttp, type ProbeResult, type ProbeTarget } from './prober.js'
import { initialState, step, type CheckState } from './state.js'

export interface HealthMonitorOptions {
  log: Logger
  metrics?: Registry
  /** A container's health changed (it is already what healthOf answers). */
  onChange: (containerId: string, health: Health) => void
  now?: () => number
  /** Tests replace the HTTP probe. */
  probe?: (t: ProbeTarget) => Promise<ProbeResult>
}

interface Watched {
  target: ProbeTarget
  check: HttpCheck
  state: CheckState
  timer?: NodeJS.Timeout
  probing: boolean
}

export class HealthMonitor {
  private readonly watched = new Map<string, Watched>()
  private readonly probes?: Counter
  private readonly transitions?: Counter
  private closed = false

  constructor (private readonly o: HealthMonitorOptions) {
    if (o.metrics !== undefined) {
      this.probes = new Counter({ name: 'driftgate_agent_health_probes_total', help: 'HTTP health probes the agent made, by result', labelNames: ['result'], registers: [o.metrics] })
      this.transitions = new Counter({ name: 'driftgate_agent_health_changes_total', help: 'Health changes the agent\'s own checks found, by new health', labelNames: ['health'], registers: [o.metrics] })
    }
  }

  private now (): number { return this.o.now?.() ?? Date.now() }

  /** What the agent's own check says, or undefined when it does not check this container. */
  healthOf (id: string): Health | undefined { return this.watched.get(id)?.state.health }

  /**
   * Checks `id` at ip:port (port: the check's, else the endpoint's); no check:
   * forgets it. The start period runs from `startedAt` (Docker's start time)
   * when known, so an agent restarted long after its containers does not
   * grant them a new start period; never from later than now.
   */
  observe (id: string, ip: string, endpointPort: number, check: HttpCheck | undefined, startedAt?: number): void {
    if (this.closed) return
    if (check === undefined) { this.forget(id); return }
    const target: ProbeTarget = { ip, port: check.port ?? endpointPort, path: check.path, timeoutMs: check.timeoutMs }
    const w = this.watched.get(id)
    if (w !== undefined) {
      const moved = w.target.ip !== target.ip || w.target.port !== target.port || w.target.path !== target.path
      w.target = target
      if (w.check.intervalMs !== check.intervalMs) { w.check = check; this.schedule(id, w, 0) } else w.check = check
      if (moved) this.schedule(id, w, 0)
      return
    }
    const now = this.now()
    const fresh: Watched = { target, check, state: initialState(startedAt !== undefined && startedAt > 0 ? Math.min(now, startedAt) : now), probing: false }
    this.watched.set(id, fresh)
    this.schedule(id, fresh, 0) // first probe at once: a ready server turns healthy without waiting an interval
  }

  forget (id: string): void {
    const w = this.watched.get(id)
    if (w === undefined) return
    clearTimeout(w.timer)
    this.watched.delete(id)
  }

  /** Forgets every container not in `ids` (after a snapshot). */
  retain (ids: ReadonlySet<string>): void {
    for (const id of [...this.watched.keys()]) if (!ids.has(id)) this.forget(id)
  }

  get size (): number { return this.watched.size }

  private schedule (id: string, w: Watched, delayMs: number): void {
    clearTimeout(w.timer)
    w.timer = setTimeout(() => { void this.probe(id, w) }, delayMs)
    w.timer.unref()
  }

  private async probe (id: string, w: Watched): Promise<void> {
    if (this.closed || this.watched.get(id) !== w || w.probing) return
    w.probing = true
    const began = this.now()
    let r: ProbeResult
    try {
      r = await (this.o.probe ?? probeHttp)(w.target)
    } catch (err) {
      r = { ok: false, detail: (err as Error).message }
    } finally {
      w.probing = false
    }
    if (this.closed || this.watched.get(id) !== w) return
    this.probes?.inc({ result: r.ok ? 'pass' : 'fail' })
    const before = w.state.health
    w.state = step(w.state, r.ok, this.now(), { retries: w.check.retries, startPeriodMs: w.check.startPeriodMs }, r.detail)
    if (w.state.health !== before) {
      this.transitions?.inc({ health: w.state.health })
      this.o.log.info({ containerId: id.slice(0, 12), ip: w.target.ip, port: w.target.port, path: w.target.path, health: w.state.health, detail: r.detail, failures: w.state.failures }, 'health changed')
      this.o.onChange(id, w.state.health)
    }
    // The interval runs from the probe's start, as Docker's does.
    this.schedule(id, w, Math.max(0, w.check.intervalMs - (this.now() - began)))
  }

  /** Idempotent. */
  close (): void {
    this.closed = true
    for (const w of this.watched.values()) clearTimeout(w.timer)
    this.watched.clear()
  }
}
