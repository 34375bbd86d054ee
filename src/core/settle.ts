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
