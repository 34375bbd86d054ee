// Bounded waiting: close() paths wait for work in flight, but never longer
// than a budget, so a role whose NATS or Docker is gone still stops in time.

/** Waits until every promise has settled or `ms` has passed, whichever is first. True if all settled. */
export async function settleWithin (promises: Iterable<Promise<unknown>>, ms: number): Promise<boolean> {
  let t: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((resolve) => { t = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([Promise.allSettled([...promises]).then(() => true as const), timedOut])
  } finally {
    clearTimeout(t)
  }
}

/** The promise's value, or a rejection with `message` after `ms`. */
export async function withTimeout<T> (p: Promise<T>, ms: number, message = 'timeout'): Promise<T> {
  let t: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { t = setTimeout(() => reject(new Error(message)), ms) })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(t)
  }
}

export interface CloseStep { name: string, close: () => Promise<void> | void }

/**
 * Runs close steps in order within one time budget: a step that hangs (a
 * Docker call to a dead daemon, a flush to an unreachable NATS) is abandoned
 * when the budget runs out and the next step still runs. Never throws;
 * `onError` hears about each step that failed or was abandoned.
 */
export async function closeInOrder (steps: readonly CloseStep[], budgetMs: number, onError: (step: string, err: Error) => void): Promise<void> {
  const deadline = Date.now() + budgetMs
  for (const s of steps) {
    const left = Math.max(50, deadline - Date.now())
    try {
      await withTimeout(Promise.resolve().then(s.close), left, `${s.name}: not closed within the ${budgetMs} ms budget`)
    } catch (err) {
      onError(s.name, err as Error)
    }
  }
}
