// One container's health as the agent's own HTTP check sees it. Pure, with
// Docker's semantics so `health` means the same whichever side checks:
//  - a container starts `starting`;
//  - a passing probe makes it `healthy` at once (also within the start period);
//  - a failing probe counts only after the start period; `retries`
//    consecutive counted failures make it `unhealthy`;
//  - a pass resets the count, so a flapping check never reaches `retries`.
import type { Health } from '../../core/index.js'

export interface CheckState {
  health: Extract<Health, 'starting' | 'healthy' | 'unhealthy'>
  /** Consecutive failures counted (after the start period). */
  failures: number
  /** When checking began (ms): the start period runs from here. */
  since: number
  /** The last probe's outcome, for logs and status. */
  last?: { ok: boolean, at: number, detail?: string }
}

export interface CheckPolicy { retries: number, startPeriodMs: number }

export function initialState (now: number): CheckState {
  return { health: 'starting', failures: 0, since: now }
}

/** The state after one probe result. */
export function step (s: CheckState, ok: boolean, now: number, policy: CheckPolicy, detail?: string): CheckState {
  const last = { ok, at: now, ...(detail !== undefined ? { detail } : {}) }
  if (ok) return { health: 'healthy', failures: 0, since: s.since, last }
  // In the start period a failure is expected (the server is still booting):
  // it neither counts nor turns a `starting` container unhealthy.
  if (s.health !== 'healthy' && now - s.since < policy.startPeriodMs) return { ...s, last }
  const failures = s.failures + 1
  return { health: failures >= policy.retries ? 'unhealthy' : s.health, failures, since: s.since, last }
}
