// What a testbed is made of, derived from its id and subnet alone, and how to
// remove all of it. The record is written before anything is created, so
// destroyTestbed() works on half-built testbeds and from other processes.
import { join } from 'node:path'
import { destroyHostDaemons } from './dockerd.js'
import { removeHarnessDir } from './mounts.js'
import { deleteNet, hostAddr } from './netns.js'
import type { HostRecord, TestbedRecord } from './state.js'

export const MAX_HOSTS = 6

/**
 * Names keep the id so concurrent testbeds never collide, and stay within
 * the kernel's 15-character interface name limit (dgv<4 hex>h<n>p = 10).
 * Addresses: .1 bridge (gateway), .10+i host i, .64+32(i-1)/27 container
 * range of host i; .2-.9 and .32-.63 are left for tests (shims, static IPs).
 */
export function layoutTestbed(id: string, subnet: string, hosts: number, name: string, ownerPid: number | null): TestbedRecord {
  // 0 hosts: the LAN alone (bridge and gateway address), for plain processes listening on it.
  if (hosts < 0 || hosts > MAX_HOSTS) throw new Error(`hosts must be 0..${MAX_HOSTS}`)
  const dir = `/tmp/driftgate-tb-${id}`
  const hostList: HostRecord[] = []
  for (let i = 1; i <= hosts; i++) {
    const hdir = join(dir, `h${i}`)
    hostList.push({
      name: `h${i}`,
      ns: `dg-${id}-h${i}`,
      veth: `dgv${id}h${i}`,
      address: hostAddr(subnet, 10 + i),
      ipRange: `${hostAddr(subnet, 64 + 32 * (i - 1))}/27`,
      dir: hdir,
      socketPath: join(hdir, 'docker.sock'),
      pidFile: join(hdir, 'docker.pid'),
      cgroupParent: `dg-${id}-h${i}`,
    })
  }
  return {
    kind: 'testbed', id, name, ownerPid, dir, subnet,
    createdAt: new Date().toISOString(),
    gateway: hostAddr(subnet, 1),
    bridge: `dgbr${id}`,
    hosts: hostList,
  }
}

/** Removes daemons, containers, mounts, namespaces, links and the temp dir. */
export async function destroyTestbed(rec: TestbedRecord): Promise<void> {
  const errors: unknown[] = []
  const attempt = async (p: Promise<unknown>) => { try { await p } catch (err) { errors.push(err) } }
  await Promise.all(rec.hosts.map((h) => attempt(destroyHostDaemons(h))))
  const links = [...rec.hosts.flatMap((h) => [h.veth, h.veth + 'p']), rec.bridge]
  await attempt(deleteNet(rec.hosts.map((h) => h.ns), links))
  await attempt(removeHarnessDir(rec.dir))
  if (errors.length) throw new AggregateError(errors, `testbed ${rec.id}: teardown incomplete: ${errors.map(String).join('; ')}`)
}
