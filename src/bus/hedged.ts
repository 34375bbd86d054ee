// Opening a watch is one JetStream request (a consumer create). Asked while
// the stream elects a new leader (its server was killed), the request is
// never answered and fails only at the JetStream timeout (5 s); the next try
// may meet the same fate. Hedged: ask again every `everyMs` while earlier
// asks are still out, keep the first watch that opens, stop the ones that
// open later. A table is then current within about `everyMs` of the stream
// answering again, instead of up to one timeout (or two) later.

/** Something that opens and can be stopped again (a watch's iterator). */
export interface Stoppable { stop: () => void }

export interface HedgeOptions {
  /** Ask again after this long without an answer. */
  everyMs: number
  /** Asks at most; when every one of them failed, the last error is thrown. */
  maxTries: number
  /** Stop asking (the caller is closing): resolves with undefined. */
  closed?: () => boolean
}

export async function openHedged<T extends Stoppable> (open: () => Promise<T>, o: HedgeOptions): Promise<T | undefined> {
  return await new Promise<T | undefined>((resolve, reject) => {
    let settled = false
    let tries = 0
    let failed = 0
    let timer: NodeJS.Timeout | undefined
    const finish = (fn: () => void): void => { settled = true; clearTimeout(timer); fn() }
    const ask = (): void => {
      if (settled) return
      if (o.closed?.() === true) { finish(() => { resolve(undefined) }); return }
      tries++
      open().then((w) => {
        if (settled) { w.stop(); return } // a slower ask opened too: not needed
        finish(() => { resolve(w) })
      }, (err: unknown) => {
        failed++
        if (settled) return
        if (failed >= o.maxTries) { finish(() => { reject(err) }); return }
        if (failed === tries) { clearTimeout(timer); ask() } // nothing else out: ask again now
      })
      if (tries < o.maxTries) timer = setTimeout(ask, o.everyMs)
    }
    ask()
  })
}
