// Compare-and-set access to `driftgate_ipam`. Every state change goes
// through one of these; a `null` answer means "someone else won the race".
import type { KV } from 'nats'
import { encodeJson, decodeJson } from '../../bus/index.js'
import { checkAllocationRecord, checkBlockRecord, checkPoolRecord, type AllocationRecord, type BlockRecord, type PoolRecord } from '../../core/index.js'

export interface Versioned<T> { value: T, revision: number }

/** JetStream "wrong last sequence" (10071) or "key exists": a lost compare-and-set. */
export function isCasConflict (err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }, message?: string }
  return e?.api_error?.err_code === 10071 || /wrong last sequence|key exists/i.test(e?.message ?? '')
}

async function cas<T> (op: () => Promise<T>): Promise<T | null> {
  try { return await op() } catch (err) {
    if (isCasConflict(err)) return null
    throw err
  }
}

/** Creates the key only when absent (or deleted): the revision, or null when taken. */
export async function casCreate (kv: KV, key: string, value: unknown): Promise<number | null> {
  return await cas(async () => await kv.create(key, encodeJson(value)))
}

export async function casUpdate (kv: KV, key: string, value: unknown, revision: number): Promise<number | null> {
  return await cas(async () => await kv.update(key, encodeJson(value), revision))
}

export async function casDelete (kv: KV, key: string, revision: number): Promise<boolean> {
  return (await cas(async () => { await kv.delete(key, { previousSeq: revision }); return true })) === true
}

function decode<T> (data: Uint8Array, check: (v: unknown) => T): T | null {
  const d = decodeJson(data)
  if (!d.ok) return null
  try { return check(d.value) } catch { return null }
}

export function decodeAllocation (data: Uint8Array): AllocationRecord | null {
  return decode(data, checkAllocationRecord)
}

export function decodeBlock (data: Uint8Array): BlockRecord | null {
  return decode(data, checkBlockRecord)
}

/** Reads one block record with its revision; null when absent, deleted or invalid. */
export async function getBlock (kv: KV, key: string): Promise<Versioned<BlockRecord> | null> {
  const e = await kv.get(key)
  if (e == null || e.operation !== 'PUT') return null
  const value = decodeBlock(e.value)
  return value == null ? null : { value, revision: e.revision }
}

/** `driftgate_ipam` as the block writer's compare-and-set store. */
export function kvBlockStore (kv: KV): { get: (k: string) => Promise<Versioned<BlockRecord> | null>, create: (k: string, v: BlockRecord) => Promise<number | null>, update: (k: string, v: BlockRecord, rev: number) => Promise<number | null> } {
  return {
    get: async (k) => await getBlock(kv, k),
    create: async (k, v) => await casCreate(kv, k, v),
    update: async (k, v, rev) => await casUpdate(kv, k, v, rev),
  }
}

export function decodePool (data: Uint8Array): PoolRecord | null {
  return decode(data, checkPoolRecord)
}

/** Reads one allocation with its revision; null when free (absent or deleted) or invalid. */
export async function getAllocation (kv: KV, key: string): Promise<Versioned<AllocationRecord> | null> {
  const e = await kv.get(key)
  if (e == null || e.operation !== 'PUT') return null
  const value = decodeAllocation(e.value)
  return value == null ? null : { value, revision: e.revision }
}

export async function getPool (kv: KV, key: string): Promise<Versioned<PoolRecord> | null> {
  const e = await kv.get(key)
  if (e == null || e.operation !== 'PUT') return null
  const value = decodePool(e.value)
  return value == null ? null : { value, revision: e.revision }
}
