// Holding back a service: a service whose file nginx -t refuses keeps its
// previous file (or stays absent when it is new) until it renders
// differently, so one bad service cannot freeze every other upstream. The
// containers reported as routed follow what nginx really serves.
import type { Model } from './model.js'
import { serviceFile } from './file-format.js'

/** At most this many services are held back in one apply before giving up. */
export const MAX_CULPRITS = 5

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
    if (names.has(serviceFile(m[1]))) return serviceFile(m[1])
  }
  return null
}

export class HeldBack {
  /** Service file → the rendered text nginx refused; skipped until it renders differently. */
  readonly files = new Map<string, string>()
  /** Service → container ids in the files nginx serves. */
  private routed = new Map<string, string[]>()
  /** When nothing was held: the model whose containers were routed (routed is then empty). */
  private routedModel: Model | null = null

  has (file: string): boolean { return this.files.has(file) }
  names (): string[] { return [...this.files.keys()] }

  hold (file: string, refused: string): void { this.files.set(file, refused) }

  /**
   * Replaces held-back services in `services` with what is on disk (or
   * nothing when they are new); forgets those that now render differently.
   */
  substitute (services: Map<string, string>, onDisk: ReadonlyMap<string, string>): void {
    for (const [name, bad] of this.files) {
      if (services.get(name) !== bad) { this.files.delete(name); continue }
      const cur = onDisk.get(name)
      if (cur !== undefined) services.set(name, cur)
      else services.delete(name)
    }
  }

  /**
   * Containers nginx routes now, built on first call of the returned
   * function. A held-back service still serves its previous file, so its
   * previous containers are reported, never the new ones: drain-before-stop
   * must not see a container as gone while nginx still routes it. With
   * nothing held, that is the model's own list, so nothing is walked here
   * (lua mode's endpoint change at 10,000 services).
   */
  routedContainers (model: Model): () => string[] {
    if (this.files.size === 0) {
      this.routedModel = model
      this.routed.clear()
      return () => model.containers
    }
    if (this.routedModel != null) {
      for (const s of this.routedModel.services) this.routed.set(s.name, s.servers.map((e) => e.containerId))
      this.routedModel = null
    }
    const next = new Map<string, string[]>()
    for (const s of model.services) {
      next.set(s.name, this.has(serviceFile(s.name)) ? this.routed.get(s.name) ?? [] : s.servers.map((e) => e.containerId))
    }
    for (const [name, ids] of this.routed) if (this.has(serviceFile(name)) && !next.has(name)) next.set(name, ids)
    this.routed = next
    // unsorted (50,000 ids sort in tens of ms): the applied message is used as a set
    const out: string[] = []
    for (const ids of next.values()) for (const id of ids) out.push(id)
    return () => out
  }
}
