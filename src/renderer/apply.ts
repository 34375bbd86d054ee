// One apply: files → nginx -t → reload → confirm, with rollback. A service
// whose file nginx refuses is held back at its previous version (and
// reported), so one bad service cannot freeze every other upstream.
import type { Logger } from '../core/index.js'
import { NginxRejectedError, TemplateError } from '../core/index.js'
import type { NginxController } from './nginx.js'
import { STATUS_FILE } from './render.js'
import { isEmptyChange, type ConfWriter } from './writer.js'

/** At most this many services are held back in one apply before giving up. */
const MAX_CULPRITS = 5

export type ApplyOutcome =
  | { kind: 'unchanged' }
  | { kind: 'applied', generation: number, reloadMs: number, heldBack: string[] }

export interface ApplyInput {
  /** Rendered service files (without the status file). */
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

/**
 * The generated file to blame for nginx's error: the file of `dir` named in
 * the message, else a changed service named in quotes (`duplicate upstream
 * "api" in /etc/nginx/nginx.conf` blames the operator's file, but the new
 * `api.conf` is what broke it).
 */
export function culpritFile (output: string, dir: string, changed: Iterable<string> = []): string | null {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`
  const re = / in (\S+?):\d+/g
  for (let m = re.exec(output); m != null; m = re.exec(output)) {
    if (m[1].startsWith(prefix)) {
      const name = m[1].slice(prefix.length)
      if (!name.includes('/')) return name
    }
  }
  const names = new Set(changed)
  const quoted = /"([a-z0-9-]{1,63})"/g
  for (let m = quoted.exec(output); m != null; m = quoted.exec(output)) {
    if (names.has(`${m[1]}.conf`)) return `${m[1]}.conf`
  }
  return null
}

export class Applier {
  /** Service file → the rendered text nginx refused; skipped until it renders differently. */
  readonly held = new Map<string, string>()

  constructor (
    private readonly writer: ConfWriter,
    private readonly nginx: NginxController,
    private readonly log: Logger,
    private readonly onRejected: (err: NginxRejectedError, file: string | null) => void,
  ) {}

  /** Replaces held-back services with what is on disk (or nothing when they are new). */
  private holdBack (services: Map<string, string>): void {
    for (const [name, bad] of this.held) {
      if (services.get(name) !== bad) { this.held.delete(name); continue }
      const cur = this.writer.current.get(name)
      if (cur !== undefined) services.set(name, cur)
      else services.delete(name)
    }
  }

  async apply (input: ApplyInput): Promise<ApplyOutcome> {
    const services = new Map(input.services)
    this.holdBack(services)
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
        const canHold = input.allowHold && file != null && file !== STATUS_FILE && services.has(file) && change.previous.has(file)
        if (!canHold || attempt >= MAX_CULPRITS) throw err
        this.held.set(file, input.services.get(file) ?? '')
        heldBack.push(file)
        this.log.error({ file, output: err.output.trim() }, 'nginx -t refused this service file: keeping its previous version')
        const prev = change.previous.get(file)
        if (prev !== undefined) services.set(file, prev)
        else services.delete(file)
        continue
      }
      const t0 = performance.now()
      try {
        await this.nginx.reload(input.generation)
      } catch (err) {
        // nginx keeps running its previous config: put the files back so the
        // folder says what nginx serves, and let the caller retry later.
        await this.writer.undo(change)
        throw err
      }
      return { kind: 'applied', generation: input.generation, reloadMs: performance.now() - t0, heldBack }
    }
  }
}

export function errorReason (err: unknown): 'template' | 'rejected' | 'reload' | 'write' {
  if (err instanceof TemplateError) return 'template'
  if (err instanceof NginxRejectedError) return 'rejected'
  const code = (err as { code?: unknown }).code
  if (code === 'DG_NGINX_RELOAD_FAILED') return 'reload'
  return 'write'
}
