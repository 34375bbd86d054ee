// Lua mode's pushes: what nginx's shared dict holds, kept in step with the
// model by batches of the services that changed. A push nginx refuses, an
// nginx that does not answer, or an nginx that restarted (new boot id: its
// dict is empty) makes the next push a full one.
import type { Logger } from '../core/index.js'
import { buildBatch } from './lua-batch.js'
import { ControlChannel, type DictState } from './control-channel.js'
import type { Model } from './model.js'

export interface PushResult {
  /** False when nginx already held this model. */
  pushed: boolean
  full: boolean
  changed: number
  ms: number
}

/** How often nginx is asked for its boot id (a restart is noticed within this). */
const WATCH_MS = 250

export class LuaPusher {
  readonly channel: ControlChannel
  /** Service → line nginx holds (valid while `boot` is nginx's boot id). */
  private pushed = new Map<string, string>()
  private boot: string | null = null
  private needFull = true
  private timer?: NodeJS.Timeout
  private watching = false
  /** The last boot id onRestart was called for (once per restart). */
  private notified: string | null = null
  last: DictState | null = null

  constructor (port: number, private readonly log: Logger) {
    this.channel = new ControlChannel(port)
  }

  /** The generation nginx's dict holds now, or null when nginx does not answer. */
  async generation (): Promise<number | null> {
    try { return (await this.channel.get()).generation } catch { return null }
  }

  /** Brings nginx to `model`. Throws NginxPushError (the next push is then full). */
  async push (model: Model, generation: number): Promise<PushResult> {
    const t0 = performance.now()
    let full = this.needFull
    let batch = buildBatch(model, this.pushed, generation, full)
    if (batch.text == null) return { pushed: false, full, changed: 0, ms: 0 }
    try {
      let state = await this.channel.push(batch.text)
      if (!full && state.boot !== this.boot) {
        // nginx restarted since the last push: that delta landed in an empty dict
        this.log.warn({ boot: state.boot }, 'nginx restarted: pushing the full state')
        full = true
        batch = buildBatch(model, this.pushed, generation, true)
        state = await this.channel.push(batch.text ?? '')
      }
      this.boot = state.boot
      this.last = state
      this.pushed = batch.lines
      this.needFull = false
      return { pushed: true, full, changed: batch.changed, ms: performance.now() - t0 }
    } catch (err) {
      this.needFull = true
      throw err
    }
  }

  /**
   * Polls nginx's boot id; calls `onRestart` when it changed (nginx restarted)
   * or nginx came back after not answering: both need a full push.
   */
  watch (onRestart: () => void): void {
    const tick = async (): Promise<void> => {
      if (this.watching) return
      this.watching = true
      try {
        const state = await this.channel.get()
        this.last = state
        if (state.boot !== this.boot && state.boot !== this.notified) {
          this.notified = state.boot
          this.needFull = true
          this.log.warn({ boot: state.boot, was: this.boot }, 'nginx restarted: its shared dict is empty, pushing the full state')
          onRestart()
        }
      } catch {
        // nginx is down or restarting: whatever it holds afterwards is unknown
        this.needFull = true
      } finally { this.watching = false }
    }
    this.timer = setInterval(() => { void tick() }, WATCH_MS)
    this.timer.unref()
  }

  close (): void {
    clearInterval(this.timer)
    this.channel.close()
  }
}
