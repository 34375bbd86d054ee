// The Docker event stream: subscribe, split JSON lines, reattach with backoff
// when the stream ends, and a watchdog for a stream that has gone silent.
// Every (re)attach is reported through onAttached so the agent snapshots:
// whatever happened while detached is healed by the snapshot.
import type Dockerode from 'dockerode'
import { backoffDelay, Sleeper, withTimeout, type BackoffOptions, type Logger } from '../core/index.js'

export interface DockerEvent {
  Type: string
  Action: string
  Actor: { ID: string, Attributes?: Record<string, string> }
  time?: number
  timeNano?: number
}

export const CONTAINER_ACTIONS = ['start', 'die', 'stop', 'kill', 'destroy', 'health_status', 'pause', 'unpause', 'rename']
export const NETWORK_ACTIONS = ['connect', 'disconnect']

export interface WatcherOptions {
  docker: Dockerode
  log: Logger
  /** No event for this long: ping Docker, reattach if it does not answer. */
  watchdogMs: number
  backoff?: BackoffOptions
  onEvent: (ev: DockerEvent, receivedAt: number) => void
  /** After every successful (re)subscription; `attempt` > 0 after a failure. */
  onAttached: (info: { first: boolean, attempt: number }) => void
  onRetry?: () => void
  now: () => number
}

/** Splits a byte stream into JSON lines; keeps the partial tail between chunks. */
export class LineSplitter {
  private tail = ''
  push (chunk: string): string[] {
    const text = this.tail + chunk
    const lines = text.split('\n')
    this.tail = lines.pop() ?? ''
    return lines.filter((l) => l.trim() !== '')
  }
}

type Stream = NodeJS.ReadableStream & { destroy?: () => void, destroyed?: boolean }

export class DockerWatcher {
  private stream?: Stream
  private closed = false
  private attaching?: Promise<void>
  private first = true
  private lastActivity = 0
  private watchdog?: NodeJS.Timeout
  private readonly sleeper = new Sleeper()

  constructor (private readonly o: WatcherOptions) {}

  /** Resolves once subscribed (retrying while Docker is unreachable). */
  async start (): Promise<void> {
    await this.reattach('start')
    if (this.closed) return
    const every = Math.max(200, Math.min(5000, Math.floor(this.o.watchdogMs / 3)))
    this.watchdog = setInterval(() => { void this.checkSilence() }, every)
  }

  /** Subscribes anew (the old stream is dropped only after the new one is up). */
  async reattach (why: string): Promise<void> {
    this.attaching ??= this.attachLoop(why).finally(() => { this.attaching = undefined })
    await this.attaching
  }

  private async attachLoop (why: string): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      if (attempt > 0) {
        const delayMs = backoffDelay(attempt, this.o.backoff)
        this.o.log.warn({ attempt, delayMs, why }, 'docker events: retrying subscription')
        this.o.onRetry?.()
        await this.sleeper.sleep(delayMs)
        if (this.closed) return
      }
      try {
        // `since` one second back: Docker flushes the response before it
        // registers the subscriber, so replay closes that gap (handling is idempotent).
        const since = Math.floor(this.o.now() / 1000) - 1
        const stream = await this.o.docker.getEvents({
          since,
          filters: { type: ['container', 'network'], event: [...CONTAINER_ACTIONS, ...NETWORK_ACTIONS] },
        }) as Stream
        if (this.closed) { stream.destroy?.(); return }
        this.install(stream)
        const first = this.first
        this.first = false
        this.o.log.info({ attempt, why }, 'docker events: subscribed')
        this.o.onAttached({ first, attempt })
        return
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message, attempt: attempt + 1, why }, 'docker events: subscription failed')
      }
    }
  }

  private install (stream: Stream): void {
    const old = this.stream
    this.stream = stream
    this.lastActivity = this.o.now()
    old?.destroy?.()
    const lines = new LineSplitter()
    stream.on('data', (chunk: Buffer | string) => {
      if (this.stream !== stream) return
      const receivedAt = this.o.now()
      this.lastActivity = receivedAt
      for (const line of lines.push(chunk.toString())) {
        let ev: DockerEvent
        try { ev = JSON.parse(line) as DockerEvent } catch {
          this.o.log.warn({ line: line.slice(0, 200) }, 'docker events: unparsable line skipped')
          continue
        }
        if (ev != null && typeof ev.Action === 'string' && ev.Actor != null) this.o.onEvent(ev, receivedAt)
      }
    })
    const ended = (what: string) => (err?: Error): void => {
      if (this.stream !== stream || this.closed) return
      this.stream = undefined
      this.o.log.warn({ what, err: err?.message }, 'docker events: stream ended, reattaching')
      void this.reattach(`stream ${what}`)
    }
    stream.on('end', ended('end'))
    stream.on('close', ended('close'))
    stream.on('error', ended('error'))
  }

  private async checkSilence (): Promise<void> {
    if (this.closed || this.attaching != null) return
    if (this.o.now() - this.lastActivity < this.o.watchdogMs) return
    this.lastActivity = this.o.now()
    const s = this.stream
    const dead = s == null || s.destroyed === true || (s as { readableEnded?: boolean }).readableEnded === true
    let pingOk = true
    try {
      await withTimeout(this.o.docker.ping(), 5000)
    } catch { pingOk = false }
    if (this.closed) return
    if (dead || !pingOk) {
      this.o.log.warn({ silentMs: this.o.watchdogMs, pingOk, dead }, 'docker events: watchdog reattaching')
      await this.reattach('watchdog')
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.watchdog)
    this.sleeper.wakeAll()
    this.stream?.destroy?.()
    this.stream = undefined
    await this.attaching
  }
}
