// Runs tasks of the same key one after the other and tasks of different keys
// in parallel: events of one container apply in order, the rest pipeline.
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>()

  /** Number of keys with work queued or running. */
  get size (): number { return this.tails.size }

  run<T> (key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key)
    const next = prev == null ? task() : prev.then(task, task)
    this.tails.set(key, next)
    // Forget the key once its last task settles, so the map stays small.
    const forget = (): void => { if (this.tails.get(key) === next) this.tails.delete(key) }
    next.then(forget, forget)
    return next
  }

  /** Resolves when everything queued so far has settled. */
  async idle (): Promise<void> {
    while (this.tails.size > 0) await Promise.allSettled([...this.tails.values()])
  }
}
