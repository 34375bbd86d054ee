// Start-up steps that talk to JetStream (stream, buckets, consumer, watches)
// are retried while the server is slow or electing leaders: a registry that
// exits on the first request TIMEOUT under load crash-loops and adds to the
// load. Errors that retrying cannot cure (permissions, bad config) still fail.
import type { Counter } from 'prom-client'
import { Sleeper, backoffDelay, type Logger } from '../core/index.js'

/** True for errors a busy or re-electing JetStream gives that go away by themselves. */
export function isTransient (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown, api_error?: { code?: number, err_code?: number } }
  const code = String(e?.code ?? '')
  if (code === 'TIMEOUT' || code === '503' || code === 'CONNECTION_CLOSED' || code === 'CONNECTION_DRAINING' || code === 'DISCONNECT') return true
  if (e?.api_error?.code === 503 || e?.api_error?.code === 504) return true
  // 10008 "JetStream system temporarily unavailable"; 10023 "insufficient resources" is not transient.
  if (e?.api_error?.err_code === 10008) return true
  const msg = String(e?.message ?? '')
  return /timeout|timed out|temporarily unavailable|no responders|no suitable peers|leader/i.test(msg)
}

export interface RetryOptions {
  log: Logger
  /** driftgate_registry_start_retries_total{step} */
  retries?: Counter<'step'>
  /** Give up after this long (the process manager then restarts us). */
  deadlineMs?: number
  baseMs?: number
  maxMs?: number
  /** Set when the component is closing: stop retrying. */
  closed?: () => boolean
  sleeper?: Sleeper
}

/** Runs `fn` until it succeeds, a non-transient error, the deadline or close. */
export async function retrying<T> (step: string, fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const started = Date.now()
  const deadline = o.deadlineMs ?? 120_000
  const sleeper = o.sleeper ?? new Sleeper()
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      const waited = Date.now() - started
      if (!isTransient(err) || o.closed?.() === true || waited >= deadline) throw err
      const delay = backoffDelay(attempt, { baseMs: o.baseMs ?? 250, maxMs: o.maxMs ?? 5000, jitter: 0.2 })
      o.retries?.inc({ step })
      o.log.warn({ step, attempt, err: (err as Error).message, retryInMs: delay, waitedMs: waited }, 'JetStream not answering during start; retrying')
      await sleeper.sleep(delay)
      if (o.closed?.() === true) throw err
    }
  }
}
