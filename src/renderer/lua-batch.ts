// Lua mode's push format (pure): a service's line as nginx/lua/driftgate/
// batch.lua parses it, and the batch of lines that changed since the last
// push. The model is already validated (model.ts); nginx validates again.
import { parseDuration } from '../core/index.js'
import type { Model, UpstreamModel } from './model.js'

// An unchanged service keeps its UpstreamModel object (model-cache.ts): its
// line is not built again.
const lineOf = new WeakMap<UpstreamModel, string>()

/**
 * `svc <name> <method> <maxFails> <failTimeoutMs> <ip>:<port>:<weight>...`;
 * another site's endpoints (spec failover) follow with `:b` (backup) or `:s` (spill).
 */
export function serviceLine (up: UpstreamModel): string {
  const cached = lineOf.get(up)
  if (cached !== undefined) return cached
  const kind = up.spill === true ? 's' : 'b'
  const peers = [...up.servers.map((s) => `${s.ip}:${s.port}:${s.weight}`), ...(up.backups ?? []).map((s) => `${s.ip}:${s.port}:${s.weight}:${kind}`)]
  const line = ['svc', up.name, up.method, String(up.maxFails), String(parseDuration(up.failTimeout)), ...peers].join(' ')
  lineOf.set(up, line)
  return line
}

export interface Batch {
  /** The text to POST; null when nothing changed. */
  text: string | null
  /** Service → line, as nginx holds it once the batch is applied. */
  lines: Map<string, string>
  /** Services whose set changed (for logs and metrics). */
  changed: number
}

/**
 * The batch that brings nginx from `pushed` to `model`. `full`: every
 * service is sent and nginx drops the ones not listed (after an nginx
 * restart, or when what nginx holds is unknown).
 */
export function buildBatch (model: Model, pushed: ReadonlyMap<string, string>, generation: number, full: boolean): Batch {
  const lines = new Map<string, string>()
  const out: string[] = ['driftgate 1', `gen ${generation}`]
  if (full) out.push('full')
  let changed = 0
  for (const up of model.services) {
    const line = serviceLine(up)
    lines.set(up.name, line)
    if (full || pushed.get(up.name) !== line) { out.push(line); changed++ }
  }
  if (!full) {
    for (const name of pushed.keys()) if (!lines.has(name)) { out.push(`del ${name}`); changed++ }
  }
  return { text: full || changed > 0 ? out.join('\n') + '\n' : null, lines, changed }
}

export interface Delta {
  /** The text to POST; null when nothing changed. */
  text: string | null
  /** Service → its new line, or null when it is deleted. */
  updates: Map<string, string | null>
  changed: number
}

/**
 * The batch for the services `names` only (O(changed), not O(services)):
 * what the renderer knows changed since the last successful push.
 * `lookup(name)` gives a service's model, undefined when it is gone.
 */
export function buildDelta (names: Iterable<string>, lookup: (name: string) => UpstreamModel | undefined,
  pushed: ReadonlyMap<string, string>, generation: number): Delta {
  const out: string[] = ['driftgate 1', `gen ${generation}`]
  const updates = new Map<string, string | null>()
  for (const name of names) {
    const up = lookup(name)
    const was = pushed.get(name)
    if (up != null) {
      const line = serviceLine(up)
      if (line !== was) { out.push(line); updates.set(name, line) }
    } else if (was !== undefined) { out.push(`del ${name}`); updates.set(name, null) }
  }
  return { text: updates.size > 0 ? out.join('\n') + '\n' : null, updates, changed: updates.size }
}
