// What the renderer says about its last apply: the error (if any), its reason
// label, and the retry with backoff for failures that may heal by themselves
// (nginx not running yet, a disk that frees up). A template or nginx -t
// rejection waits for the next change instead: retrying it cannot help.
import { backoffDelay, ErrorCodes, NginxRejectedError, TemplateError, type Logger } from '../core/index.js'
import { setLastError, type ErrorReason, type RendererMetrics } from './metrics.js'

// The one backoff of every role (core/backoff.ts): 1 s doubling to 30 s, ±20 %.
const RETRY = { baseMs: 1000, maxMs: 30_000 }

export function errorReason (err: unknown): ErrorReason {
  if (err instanceof TemplateError) return 'template'
  if (err instanceof NginxRejectedError) return 'rejected'
  const code = (err as { code?: unknown }).code
  if (code === ErrorCodes.NGINX_TEST_FAILED) return 'tester'
  if (code === ErrorCodes.NGINX_RELOAD_FAILED) return 'reload'
  if (code === ErrorCodes.NGINX_NOT_RUNNING) return 'not_running'
  if (code === ErrorCodes.NGINX_PUSH_FAILED) return 'push'
  return 'write'
}

/** Reasons worth a retry on their own (no new change needed). */
const RETRIED = new Set<ErrorReason>(['tester', 'reload', 'not_running', 'push', 'write'])
/** Reasons that count as a failed reload. */
const RELOAD_FAILED = new Set<ErrorReason>(['reload', 'write'])

export class Failures {
  lastError: string | null = null
  private attempt = 0
  private timer?: NodeJS.Timeout

  constructor (private readonly log: Logger, private readonly metrics: RendererMetrics, private readonly retry: () => void) {}

  /**
   * An apply went through. `problem` is what still is not right (a broken
   * template kept at its previous version, services held back).
   */
  succeeded (problem: { reason: ErrorReason, message: string } | null): void {
    if (problem == null && (this.lastError != null || this.attempt > 0)) this.log.info('renderer recovered')
    this.lastError = problem?.message ?? null
    this.attempt = 0
    setLastError(this.metrics, problem?.reason ?? null)
  }

  /** An apply failed: nginx keeps serving what it served. Returns the reason; retries those in RETRIED. */
  failed (err: unknown, cause: string): ErrorReason {
    const reason = errorReason(err)
    const retryMs = backoffDelay(this.attempt + 1, RETRY)
    this.lastError = (err as Error).message
    setLastError(this.metrics, reason)
    if (reason === 'template') this.metrics.rejected.inc()
    if (reason === 'not_running') {
      // The start order operators use: renderer first, nginx later from these files.
      this.log.warn({ reason, detail: (err as Error).message, retryMs }, 'nginx is not running: validated files written, reload skipped')
    } else {
      this.log.error({ err, reason, retryMs: RETRIED.has(reason) ? retryMs : undefined }, 'apply failed: nginx keeps serving the previous configuration')
    }
    if (!RETRIED.has(reason)) return reason
    if (RELOAD_FAILED.has(reason)) this.metrics.reloads.inc({ result: 'failed', cause })
    clearTimeout(this.timer)
    this.timer = setTimeout(this.retry, retryMs)
    this.timer.unref()
    this.attempt++
    return reason
  }

  close (): void { clearTimeout(this.timer) }
}
