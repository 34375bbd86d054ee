// Spec history: every applied spec is a version, kept in its own bucket
// `driftgate_history` under `<service>.<version>` with who, when and why.
// Written before the services CAS (a failed CAS leaves an entry the next
// write of that version overwrites; lists never show versions newer than the
// current one), pruned to the last HISTORY_KEEP per service.
import type { KV } from 'nats'
import { checkServiceSpec, specHash, type ServiceSpec } from '../core/index.js'
import { decodeJson, encodeJson } from '../bus/index.js'

/** Versions kept per service (the issue asks for at least 20). */
export const HISTORY_KEEP = 50

export interface HistoryEntry {
  v: 1
  service: string
  version: number
  spec: ServiceSpec
  specHash: string
  at: number
  /** "cli", "console" or "api", with the token's id (a hash prefix, never the token). */
  by: string
  /** One line: apply, scale, patch, rollback to 3. */
  reason: string
}

/** Who and why, as the write route knows them. */
export interface WriteMeta { by: string, reason: string }

export const historyKey = (service: string, version: number): string => `${service}.${version}`

function decode (data: Uint8Array): HistoryEntry | null {
  const d = decodeJson(data)
  if (!d.ok || typeof d.value !== 'object' || d.value === null) return null
  const e = d.value as HistoryEntry
  if (e.v !== 1 || typeof e.version !== 'number' || typeof e.at !== 'number') return null
  try { checkServiceSpec(structuredClone(e.spec)) } catch { return null }
  return e
}

export async function recordHistory (kv: KV, spec: ServiceSpec, version: number, meta: WriteMeta, at: number): Promise<void> {
  const entry: HistoryEntry = { v: 1, service: spec.name, version, spec, specHash: specHash(spec), at, by: meta.by, reason: meta.reason }
  await kv.put(historyKey(spec.name, version), encodeJson(entry))
  const old = version - HISTORY_KEEP
  // Only the one that just fell out: each write prunes its own tail.
  if (old >= 1) await kv.purge(historyKey(spec.name, old)).catch(() => {})
}

export async function readHistory (kv: KV, service: string, version: number): Promise<HistoryEntry | null> {
  const e = await kv.get(historyKey(service, version))
  if (e == null || e.operation !== 'PUT') return null
  return decode(e.value)
}

/** Newest first, up to `current` (versions above it are leftovers of a lost write race or an earlier life of the name). */
export async function listHistory (kv: KV, service: string, current: number): Promise<HistoryEntry[]> {
  const keys: string[] = []
  const iter = await kv.keys(`${service}.*`)
  for await (const k of iter) keys.push(k)
  const versions = keys.map((k) => Number(k.slice(service.length + 1)))
    .filter((n) => Number.isInteger(n) && n >= 1 && n <= current && n > current - HISTORY_KEEP)
  const entries = await Promise.all(versions.map(async (n) => await readHistory(kv, service, n)))
  return entries.filter((e): e is HistoryEntry => e !== null).sort((a, b) => b.version - a.version)
}

