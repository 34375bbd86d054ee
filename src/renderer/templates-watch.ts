// Watches the template folder: an edited template triggers a render that is
// validated like any other change (a broken one is rejected and reported,
// nginx keeps the previous config, and fixing it recovers without a restart).
import { watch, type FSWatcher } from 'chokidar'

export class TemplatesWatch {
  private watcher?: FSWatcher

  constructor (private readonly dir: string, private readonly onChange: (path: string) => void) {}

  async start (): Promise<void> {
    this.watcher = watch(this.dir, {
      ignoreInitial: true,
      // editors write in several steps: wait until the file stops changing
      awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 },
    })
    this.watcher.on('all', (_event, path) => {
      if (path.endsWith('.njk')) this.onChange(path)
    })
    await new Promise<void>((resolve) => this.watcher?.once('ready', () => resolve()))
  }

  async close (): Promise<void> {
    const w = this.watcher
    this.watcher = undefined
    await w?.close()
  }
}
