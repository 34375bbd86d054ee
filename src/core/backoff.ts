// Retry delays: exponential with jitter, capped. Pure (random is injectable).

export interface BackoffOptions { baseMs?: number, maxMs?: number, jitter?: number }

/** Delay before retry number `attempt` (1-based): base·2^(attempt-1), capped, ± jitter. */
export function backoffDelay (attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = opts.baseMs ?? 200
  const max = opts.maxMs ?? 5000
  const jitter = opts.jitter ?? 0.2
  const raw = Math.min(max, base * 2 ** Math.max(0, Math.min(attempt - 1, 30)))
  return Math.max(0, Math.round(raw * (1 - jitter + 2 * jitter * random())))
}

/** A sleep that close() can cut short. */
export class Sleeper {
  private timers = new Set<{ t: NodeJS.Timeout, done: () => void }>()

  async sleep (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const entry = { t: setTimeout(() => { this.timers.delete(entry); resolve() }, ms), done: resolve }
      this.timers.add(entry)
    })
  }

  wakeAll (): void {
    for (const e of this.timers) { clearTimeout(e.t); e.done() }
    this.timers.clear()
  }
}
