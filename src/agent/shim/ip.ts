// The iproute2 adapter: reads the host's macvlan links, their IPv4
// addresses and routes with `ip -j` (three calls, whatever the number of
// shims), and runs one step of a plan. execFile, never a shell. Needs
// CAP_NET_ADMIN to change anything.
import { execFile } from 'node:child_process'
import { DriftgateError, ErrorCodes } from '../../core/index.js'
import { ipArgs, normDst, type ActualLink, type ShimAction } from './plan.js'

const TIMEOUT_MS = 5000

export type IpRunner = (args: string[]) => Promise<string>

/** Runs `ip <args>`; rejects with iproute2's own message. */
export const runIp: IpRunner = async (args) => await new Promise((resolve, reject) => {
  execFile('ip', args, { timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
    if (err == null) { resolve(String(stdout)); return }
    const why = String(stderr).trim() || err.message
    const hint = /Operation not permitted/i.test(why) ? ' (the agent needs CAP_NET_ADMIN for the MacVLAN shim; or run it with --no-shim)' : ''
    reject(new DriftgateError(ErrorCodes.SHIM, `ip ${args.join(' ')}: ${why}${hint}`))
  })
})

interface JsonLink { ifname?: string, link?: string, address?: string, flags?: string[], linkinfo?: { info_kind?: string, info_data?: { mode?: string } } }
interface JsonAddr { ifname?: string, addr_info?: Array<{ family?: string, local?: string, prefixlen?: number }> }
interface JsonRoute { dst?: string, dev?: string, type?: string }

function parse<T> (text: string): T[] {
  const v = JSON.parse(text.trim() === '' ? '[]' : text) as unknown
  return Array.isArray(v) ? v as T[] : []
}

/** Every macvlan link of this network namespace, with its addresses and main-table routes. */
export async function readMacvlanLinks (ip: IpRunner = runIp): Promise<ActualLink[]> {
  const [links, addrs, routes] = await Promise.all([
    ip(['-j', '-d', 'link', 'show', 'type', 'macvlan']),
    ip(['-j', '-4', 'addr', 'show']),
    ip(['-j', '-4', 'route', 'show']),
  ])
  const addrOf = new Map(parse<JsonAddr>(addrs).map((a) => [a.ifname ?? '',
    (a.addr_info ?? []).filter((x) => x.family === 'inet' && x.local !== undefined).map((x) => `${x.local ?? ''}/${x.prefixlen ?? 32}`)]))
  const routeList = parse<JsonRoute>(routes).filter((r) => r.dst !== undefined && r.dev !== undefined && (r.type ?? 'unicast') === 'unicast')
  return parse<JsonLink>(links).filter((l) => l.ifname !== undefined && l.linkinfo?.info_kind === 'macvlan').map((l) => ({
    name: l.ifname as string,
    parent: l.link,
    mac: (l.address ?? '').toLowerCase(),
    mode: l.linkinfo?.info_data?.mode,
    up: (l.flags ?? []).includes('UP'),
    addresses: addrOf.get(l.ifname as string) ?? [],
    routes: routeList.filter((r) => r.dev === l.ifname).map((r) => normDst(r.dst as string)),
  }))
}

/** Runs one step. A link already gone on del-link is fine (the goal is reached). */
export async function applyAction (a: ShimAction, ip: IpRunner = runIp): Promise<void> {
  try {
    await ip(ipArgs(a))
  } catch (err) {
    if (a.op === 'del-link' && /Cannot find device|does not exist/i.test((err as Error).message)) return
    throw err
  }
}
