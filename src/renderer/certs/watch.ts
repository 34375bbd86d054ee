// Watches the --certs folder. certbot writes several files per renewal
// (archive/*N.pem, then re-points the live/ symlinks) and a hand copy
// writes the certificate and the key one after the other: one callback
// after the folder has been quiet for `debounceMs`, not one per file.
// A slow periodic rescan catches what inotify misses (e.g. a symlink
// re-pointed by a tool on another mount namespace).
import { watch, type FSWatcher } from 'chokidar'

export interface CertWatchOptions {
  dir: string
  debounceMs: number
  /** Rescan even without an event this often (0: never). */
  rescanMs: number
  onChange: () => void
}

export class CertWatch {
  private watcher?: FSWatcher
  private timer?: NodeJS.Timeout
  private interval?: NodeJS.Timeout
  private closed = false

  constructor (private readonly opts: CertWatchOptions) {}

  async start (): Promise<void> {
    const w = watch(this.opts.dir, { ignoreInitial: true, followSymlinks: true, depth: 3 })
    this.watcher = w
    w.on('all', () => this.poke())
    w.on('error', () => this.poke())
    await new Promise<void>((resolve) => w.once('ready', () => resolve()))
    if (this.opts.rescanMs > 0) {
      this.interval = setInterval(() => this.opts.onChange(), this.opts.rescanMs)
      this.interval.unref()
    }
  }

  private poke (): void {
    if (this.closed) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { if (!this.closed) this.opts.onChange() }, this.opts.debounceMs)
    this.timer.unref()
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    clearInterval(this.interval)
    const w = this.watcher
    this.watcher = undefined
    await w?.close()
  }
}
