// Removes leftovers of harness runs: every record whose owner died (or all of
// them), plus orphans, i.e. harness-named namespaces, links and temp dirs that
// no record claims (a record is written before anything is created, so an
// orphan can only come from an interrupted teardown).
import { existsSync, readdirSync } from 'node:fs'
import { isHarnessDir, removeHarnessDir } from './mounts.js'
import { deleteNet, listLinks, listNetns } from './netns.js'
import { childrenOf, isAlive, killAndWait, pidsMatching } from './procs.js'
import { isStale, readRecords, removeRecord, type DaemonRecord, type HarnessRecord } from './state.js'
import { destroyTestbed } from './testbed-record.js'

/**
 * Kills the daemons of an nginx or nats-server record (by recorded pid and by
 * its dir on their command lines) and removes its dir. Here rather than next
 * to the test harness's startNginx/startNats so the reaper, which lives with
 * the lab, can remove them too.
 */
export async function destroyDaemons(rec: DaemonRecord): Promise<void> {
  const masters = [...new Set([...rec.pids, ...pidsMatching(rec.dir + '/')])].filter(isAlive)
  const workers = masters.flatMap(childrenOf) // nginx workers; nats-server has none
  // SIGTERM makes a master stop its workers; SIGKILL only if it hangs.
  await killAndWait(masters, 'SIGTERM', 10_000)
  await killAndWait(workers, 'SIGKILL', 5_000)
  await removeHarnessDir(rec.dir)
}

export async function cleanupRecord(rec: HarnessRecord): Promise<void> {
  if (rec.kind === 'testbed') await destroyTestbed(rec)
  else await destroyDaemons(rec)
  removeRecord(rec.kind, rec.id) // only after success: a failed cleanup is retried later
}

export interface CleanupOptions {
  /** Only records owned by this pid (the reaper's mode). */
  ownerPid?: number
  /** Every record, including live owners and ownerless (global) testbeds. */
  all?: boolean
  /** Also remove orphans (default true unless ownerPid is given). */
  orphans?: boolean
}

/** Returns a line per removed thing; throws after trying everything if something failed. */
export async function cleanupAll(opts: CleanupOptions = {}): Promise<string[]> {
  const done: string[] = []
  const errors: unknown[] = []
  const records = readRecords().filter((r) =>
    opts.ownerPid !== undefined ? r.ownerPid === opts.ownerPid : opts.all || isStale(r))
  for (const rec of records) {
    try {
      await cleanupRecord(rec)
      done.push(`${rec.kind} ${rec.id} (${rec.dir})`)
    } catch (err) {
      errors.push(err)
    }
  }
  if (opts.orphans ?? opts.ownerPid === undefined) {
    try { done.push(...(await cleanupOrphans())) } catch (err) { errors.push(err) }
  }
  if (errors.length) throw new AggregateError(errors, `cleanup incomplete: ${errors.map(String).join('; ')}`)
  return done
}

/** Records whose owner died: what Testbed.create() clears before starting. */
export const cleanupStale = (): Promise<string[]> => cleanupAll({})

const claimedIds = (): Set<string> => new Set(readRecords().map((r) => r.id))

async function cleanupOrphans(): Promise<string[]> {
  const claimed = claimedIds()
  const done: string[] = []
  const nsOrphans = (await listNetns()).filter((n) => { const m = /^dg-([0-9a-f]{4})-h\d+$/.exec(n); return m && !claimed.has(m[1]) })
  const linkOrphans = (await listLinks()).filter((l) => { const m = /^dg(?:br|v)([0-9a-f]{4})(?:h\d+p?)?$/.exec(l); return m && !claimed.has(m[1]) })
  if (nsOrphans.length || linkOrphans.length) {
    await deleteNet(nsOrphans, linkOrphans)
    done.push(...nsOrphans.map((n) => `netns ${n}`), ...linkOrphans.map((l) => `link ${l}`))
  }
  if (!existsSync('/tmp')) return done
  for (const name of readdirSync('/tmp')) {
    const m = /^driftgate-(tb|nginx|nats)-([0-9a-f]+)$/.exec(name)
    const dir = `/tmp/${name}`
    if (!m || claimed.has(m[2]) || !isHarnessDir(dir)) continue
    // Re-read: a record may have appeared since (a testbed being created).
    if (claimedIds().has(m[2])) continue
    await killAndWait(pidsMatching(dir + '/'), 'SIGTERM', 10_000)
    await removeHarnessDir(dir)
    done.push(`dir ${dir}`)
  }
  return done
}
