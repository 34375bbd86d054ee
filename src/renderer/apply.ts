// One apply: files → nginx -t → reload → confirm, with rollback. A service
// whose file nginx refuses is held back at its previous version (held-back.ts).
import type { Logger } from '../core/index.js'
import { NginxNotRunningError, NginxRejectedError } from '../core/index.js'
import type { NginxController } from './nginx.js'
import { ROUTES_FILE, STATUS_FILE } from './file-format.js'
import { culpritFile, MAX_CULPRITS, type HeldBack } from './held-back.js'
import { isEmptyChange, type ConfWriter } from './writer.js'

export type ApplyOutcome =
  | { kind: 'unchanged' }
  | { kind: 'applied', generation: number, reloadMs: number, heldBack: string[] }

export interface ApplyInput {
  /** Rendered service files and the routes file (without the status file). */
  services: Map<string, string>
  /** Renders the status file for a generation. */
  status: (generation: number) => string
  generation: number
  /** Reload even when no file changed (start, or after a failed reload). */
  force: boolean
  /**
   * Hold back single refused services. False while a template change is not
   * yet proven good: a broken template breaks every service, and holding them
   * back one by one would "succeed" with nothing applied.
   */
  allowHold: boolean
}

export class Applier {
  constructor (
    private readonly writer: ConfWriter,
    private readonly nginx: NginxController,
    private readonly log: Logger,
    readonly held: HeldBack,
    private readonly onRejected: (err: NginxRejectedError, file: string | null) => void,
  ) {}

  async apply (input: ApplyInput): Promise<ApplyOutcome> {
    const services = new Map(input.services)
    this.held.substitute(services, this.writer.current)
    const heldBack: string[] = []
    for (let attempt = 0; ; attempt++) {
      const desired = new Map(services)
      const oldStatus = this.writer.current.get(STATUS_FILE)
      if (oldStatus !== undefined) desired.set(STATUS_FILE, oldStatus)
      if (!input.force && isEmptyChange(this.writer.diff(desired))) return { kind: 'unchanged' }
      desired.set(STATUS_FILE, input.status(input.generation))
      const change = this.writer.diff(desired)
      await this.writer.apply(desired, change)
      try {
        await this.nginx.test()
      } catch (err) {
        await this.writer.undo(change)
        if (!(err instanceof NginxRejectedError)) throw err
        const file = culpritFile(err.output, this.writer.dir, change.previous.keys())
        this.onRejected(err, file)
        // only service files are held back (the renderer's own files start with `_`)
        const canHold = input.allowHold && file != null && !file.startsWith('_') && file !== ROUTES_FILE && services.has(file) && change.previous.has(file)
        if (!canHold || attempt >= MAX_CULPRITS) throw err
        this.held.hold(file, input.services.get(file) ?? '')
        heldBack.push(file)
        this.log.error({ file }, 'nginx -t refused this service file: keeping its previous version')
        const prev = change.previous.get(file)
        if (prev !== undefined) services.set(file, prev)
        else services.delete(file)
        continue
      }
      const t0 = performance.now()
      try {
        await this.nginx.reload(input.generation)
      } catch (err) {
        // No nginx to reload: the files passed nginx -t, so keep them for the
        // nginx that starts later (restoring "previous" files that never
        // existed would leave it nothing to start from).
        if (err instanceof NginxNotRunningError) throw err
        // nginx keeps running its previous config: put the files back so the
        // folder says what nginx serves, and let the caller retry later.
        await this.writer.undo(change)
        throw err
      }
      return { kind: 'applied', generation: input.generation, reloadMs: performance.now() - t0, heldBack }
    }
  }
}
