// driftgate_services writes: read the current record, decide, write with CAS
// on its revision (version + 1), retry on a conflict. Nothing is written when
// the decision throws, so bad input changes nothing.
import type { KV } from 'nats'
import { ConflictError, NotFoundError, checkServiceRecord, specHash, type ServiceRecord, type ServiceSpec } from '../core/index.js'
import { decodeJson, encodeJson } from '../bus/index.js'
import { isConflict } from './leader.js'
import { sameSpec } from './spec-input.js'
import { recordHistory, type WriteMeta } from './history.js'

export interface SpecWriteResult {
  service: string
  version: number
  specHash: string
  /** False when the stored spec was already this one (no write). */
  changed: boolean
  created: boolean
  replicas: number
}

const ATTEMPTS = 5

interface Current { rec: ServiceRecord | null, revision: number, exists: boolean }

async function current (kv: KV, name: string): Promise<Current> {
  const e = await kv.get(name)
  if (e == null || e.operation !== 'PUT') return { rec: null, revision: e?.revision ?? 0, exists: false }
  const d = decodeJson(e.value)
  // An invalid stored value is replaced by the next valid write.
  const rec = d.ok && checkServiceRecord.problems(d.value) === null ? d.value as ServiceRecord : null
  return { rec, revision: e.revision, exists: true }
}

/**
 * Writes the spec that `decide` derives from the current one (null when the
 * service does not exist yet). `decide` throws to refuse. With `history`,
 * the new version is recorded there (who, why) before it is written.
 */
export async function writeSpec (kv: KV, name: string, decide: (cur: ServiceSpec | null) => ServiceSpec,
  now: () => number = Date.now, history?: { kv: KV, meta: WriteMeta }): Promise<SpecWriteResult> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const { rec, revision, exists } = await current(kv, name)
    const spec = decide(rec?.spec ?? null)
    const base = { service: name, specHash: specHash(spec), replicas: spec.replicas }
    if (rec !== null && sameSpec(rec.spec, spec)) return { ...base, version: rec.version, changed: false, created: false }
    const next: ServiceRecord = { v: 1, spec, version: (rec?.version ?? 0) + 1, updatedAt: now() }
    try {
      if (history !== undefined) await recordHistory(history.kv, spec, next.version, history.meta, next.updatedAt)
      if (!exists) await kv.create(name, encodeJson(next))
      else await kv.update(name, encodeJson(next), revision)
      return { ...base, version: next.version, changed: true, created: rec === null }
    } catch (err) {
      if (!isConflict(err)) throw err
    }
  }
  throw new ConflictError(`service "${name}" changed ${ATTEMPTS} times while being written: try again`)
}

export async function deleteSpec (kv: KV, name: string): Promise<{ service: string, version: number }> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const { rec, revision, exists } = await current(kv, name)
    if (!exists) throw new NotFoundError(`service "${name}"`)
    try {
      await kv.delete(name, { previousSeq: revision })
      return { service: name, version: rec?.version ?? 0 }
    } catch (err) {
      if (!isConflict(err)) throw err
    }
  }
  throw new ConflictError(`service "${name}" changed ${ATTEMPTS} times while being deleted: try again`)
}

export async function readSpec (kv: KV, name: string): Promise<ServiceRecord | null> {
  return (await current(kv, name)).rec
}
