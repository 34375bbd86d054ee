// State files under /run/driftgate-testbed/: one JSON record per testbed,
// nginx or nats-server the harness started, written before anything is
// created. Whatever happens to the test process afterwards, a record names
// everything that has to be removed (see cleanup.ts).
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync, renameSync, openSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { sleep } from './exec.js'
import { isAlive } from './procs.js'

// One place per machine: orphan detection relies on every record being here.
export const STATE_DIR = '/run/driftgate-testbed'

export interface BaseRecord {
  kind: 'testbed' | 'nginx' | 'nats'
  id: string
  /** Process whose death makes this record stale; null = kept until removed explicitly. */
  ownerPid: number | null
  createdAt: string
  /** Per-instance temp dir; every daemon of the instance has it in its command line. */
  dir: string
}

export interface HostRecord {
  name: string
  ns: string
  veth: string
  address: string
  ipRange: string
  dir: string
  socketPath: string
  pidFile: string
  cgroupParent: string
}

export interface TestbedRecord extends BaseRecord {
  kind: 'testbed'
  name: string
  subnet: string
  gateway: string
  bridge: string
  hosts: HostRecord[]
}

export interface NginxRecord extends BaseRecord {
  kind: 'nginx'
  pids: number[]
}

export interface NatsRecord extends BaseRecord {
  kind: 'nats'
  pids: number[]
}

export type DaemonRecord = NginxRecord | NatsRecord
export type HarnessRecord = TestbedRecord | DaemonRecord

export function ensureStateDir(): void {
  mkdirSync(STATE_DIR, { recursive: true })
}

export const recordPath = (kind: string, id: string): string => join(STATE_DIR, `${kind}-${id}.json`)

export function writeRecord(rec: HarnessRecord): void {
  ensureStateDir()
  const path = recordPath(rec.kind, rec.id)
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(rec, null, 2))
  renameSync(tmp, path) // atomic: a reader never sees half a record
}

export function removeRecord(kind: string, id: string): void {
  try {
    unlinkSync(recordPath(kind, id))
  } catch { /* already gone */ }
}

export function readRecords(): HarnessRecord[] {
  let names: string[] = []
  try {
    names = readdirSync(STATE_DIR)
  } catch {
    return []
  }
  const out: HarnessRecord[] = []
  for (const n of names) {
    if (!/^(testbed|nginx|nats)-[a-z0-9]+\.json$/.test(n)) continue
    try {
      out.push(JSON.parse(readFileSync(join(STATE_DIR, n), 'utf8')) as HarnessRecord)
    } catch { /* being written or corrupt: the next pass sees it */ }
  }
  return out
}

export function hasRecord(kind: string, id: string): boolean {
  try {
    statSync(recordPath(kind, id))
    return true
  } catch {
    return false
  }
}

export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex')

/** A record is stale when its owner process is gone. */
export const isStale = (rec: HarnessRecord): boolean => rec.ownerPid !== null && !isAlive(rec.ownerPid)

const LOCK = (): string => join(STATE_DIR, 'alloc.lock')

/**
 * Cross-process mutex for id/subnet allocation: an exclusively created file
 * holding the holder's pid. A lock whose holder died, or that is older than
 * 30 s, is broken.
 */
export async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  ensureStateDir()
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const fd = openSync(LOCK(), 'wx')
      writeFileSync(fd, String(process.pid))
      closeSync(fd)
      break
    } catch {
      breakStaleLock()
      if (Date.now() > deadline) throw new Error(`could not take ${LOCK()}`)
      await sleep(25)
    }
  }
  try {
    return await fn()
  } finally {
    try { unlinkSync(LOCK()) } catch { /* broken by someone else */ }
  }
}

function breakStaleLock(): void {
  try {
    const holder = Number(readFileSync(LOCK(), 'utf8'))
    const age = Date.now() - statSync(LOCK()).mtimeMs
    if ((holder > 0 && !isAlive(holder)) || age > 30_000) unlinkSync(LOCK())
  } catch { /* vanished meanwhile */ }
}
