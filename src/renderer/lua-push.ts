// Lua mode's pushes: what nginx's shared dict holds, kept in step with the
// model by batches of the services that changed. A push nginx refuses, an
// nginx that does not answer, or an nginx that restarted (new boot id: its
// dict is empty) makes the next push a full one.
import type { Logger } from '../core/index.js'
import { buildBatch, buildDelta } from './lua-batch.js'
import { ControlChannel, type DictState } from './control-channel.js'
import type { Model, UpstreamModel } from './model.js'

/** What the model cache knows changed: lets a delta skip every other service. */
export interface ChangeHint {
  /** Services rebuilt since the previous model (null: all of them). */
  changed: readonly string[] | null
  lookup: (name: string) => UpstreamModel | undefined
}

export interface PushResult {
  /** False when nginx already held this model. */
  pushed: boolean
  full: boolean
  changed: number
  ms: number
}

/** How often nginx is asked for its boot id (a restart is noticed within this; one loopback GET). */
const WATCH_MS = 100

export class LuaPusher {
  readonly channel: ControlChannel
  /** Service → line nginx holds (valid while `boot` is nginx's boot id). */
  private pushed = new Map<string, string>()
  /** Services changed since the last successful push (hinted pushes only). */
  private readonly pending = new Set<string>()
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

  /**
   * Brings nginx to `model`. With `hint`, a delta looks at the changed
   * services only (O(changed): at 10,000 services a scan of every line costs
   * milliseconds per endpoint change). Throws NginxPushError (the next push
   * is then full).
   */
  async push (model: Model, generation: number, hint?: ChangeHint): Promise<PushResult> {
    const t0 = performance.now()
    if (hint?.changed == null) this.pending.clear()
    else for (const name of hint.changed) this.pending.add(name)
    const full = this.needFull
    try {
      if (!full && hint?.changed != null) {
        const d = buildDelta(this.pending, hint.lookup, this.pushed, generation)
        if (d.text == null) { this.pending.clear(); return { pushed: false, full, changed: 0, ms: 0 } }
        const state = await this.channel.push(d.text)
        if (state.boot === this.boot) {
          for (const [name, line] of d.updates) {
            if (line == null) this.pushed.delete(name)
            else this.pushed.set(name, line)
          }
          return this.done(state, false, d.changed, t0)
        }
        // nginx restarted since the last push: that delta landed in an empty dict
        this.log.warn({ boot: state.boot }, 'nginx restarted: pushing the full state')
        return await this.pushFull(model, generation, t0)
      }
      const batch = buildBatch(model, this.pushed, generation, full)
      if (batch.text == null) { this.pending.clear(); return { pushed: false, full, changed: 0, ms: 0 } }
      const state = await this.channel.push(batch.text)
      if (!full && state.boot !== this.boot) {
        this.log.warn({ boot: state.boot }, 'nginx restarted: pushing the full state')
        return await this.pushFull(model, generation, t0)
      }
      this.pushed = batch.lines
      return this.done(state, full, batch.changed, t0)
    } catch (err) {
      this.needFull = true
      throw err
    }
  }

  private async pushFull (model: Model, generation: number, t0: number): Promise<PushResult> {
    const batch = buildBatch(model, this.pushed, generation, true)
    const state = await this.channel.push(batch.text ?? '')
    this.pushed = batch.lines
    return this.done(state, true, batch.changed, t0)
  }

  private done (state: DictState, full: boolean, changed: number, t0: number): PushResult {
    this.boot = state.boot
    this.last = state
    this.needFull = false
    this.pending.clear()
    return { pushed: true, full, changed, ms: performance.now() - t0 }
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
          // Before our first push completes there is no earlier boot to compare: not a restart.
          if (this.boot === null) this.log.info({ boot: state.boot }, 'nginx answers; pushing the full state')
          else this.log.warn({ boot: state.boot, was: this.boot }, 'nginx restarted: its shared dict is empty, pushing the full state')
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
