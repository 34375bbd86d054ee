// What the host should have (one shim per MacVLAN network) against what
// `ip -j` shows → the iproute2 steps that close the gap, in order. Pure and
// table-tested; the adapter (ip.ts) only reads and executes.
import { SHIM_NAME } from './naming.js'

export interface DesiredShim {
  name: string
  /** Parent interface (the Docker network's `parent` option). */
  parent: string
  mac: string
  /** The shim's own address (a /32 on the link: no connected route to clash with the parent's). */
  address: string
  /** Destinations routed through the shim. */
  routes: string[]
}

export interface ActualLink {
  name: string
  /** Parent name as `ip -d link` shows it ("link"); undefined when it lives elsewhere. */
  parent?: string
  mac: string
  /** macvlan mode (bridge, vepa, private, passthru, source). */
  mode?: string
  up: boolean
  /** "ip/prefix" of every IPv4 address on the link. */
  addresses: string[]
  /** Destinations of the link's routes in the main table ("a.b.c.d/n"; a host route as "a.b.c.d/32"). */
  routes: string[]
}

export type ShimAction =
  | { op: 'add-link', name: string, parent: string, mac: string }
  | { op: 'del-link', name: string }
  | { op: 'set-up', name: string }
  | { op: 'add-addr', name: string, address: string }
  | { op: 'del-addr', name: string, address: string }
  | { op: 'add-route', name: string, dst: string, src: string }
  | { op: 'del-route', name: string, dst: string }

/** `ip -j route` prints a host route without its /32. */
export const normDst = (dst: string): string => dst.includes('/') ? dst : `${dst}/32`

function create (d: DesiredShim): ShimAction[] {
  return [
    { op: 'add-link', name: d.name, parent: d.parent, mac: d.mac },
    // Up before routes: the kernel drops a link's routes when it goes down.
    { op: 'set-up', name: d.name },
    { op: 'add-addr', name: d.name, address: `${d.address}/32` },
    ...d.routes.map((dst): ShimAction => ({ op: 'add-route', name: d.name, dst, src: d.address })),
  ]
}

function repair (d: DesiredShim, a: ActualLink): ShimAction[] {
  // Wrong parent, mode or MAC cannot be changed in place: start over.
  if (a.parent !== d.parent || a.mode !== 'bridge' || a.mac.toLowerCase() !== d.mac) {
    return [{ op: 'del-link', name: d.name }, ...create(d)]
  }
  const out: ShimAction[] = []
  if (!a.up) out.push({ op: 'set-up', name: d.name })
  const want = `${d.address}/32`
  for (const x of a.addresses) if (x !== want) out.push({ op: 'del-addr', name: d.name, address: x })
  if (!a.addresses.includes(want)) out.push({ op: 'add-addr', name: d.name, address: want })
  // A link that was down has lost its routes: all of them are added again.
  const have = new Set(a.up ? a.routes.map(normDst) : [])
  for (const dst of d.routes) if (!have.has(dst)) out.push({ op: 'add-route', name: d.name, dst, src: d.address })
  for (const dst of have) if (!d.routes.includes(dst)) out.push({ op: 'del-route', name: d.name, dst })
  return out
}

/**
 * Steps from `actual` to `desired`. Links of ours (named like a shim) that
 * are no longer desired are removed only when `owned` lists them: another
 * agent on the same machine (another host id) may own the rest.
 */
export function decideShims (desired: readonly DesiredShim[], actual: readonly ActualLink[], owned: ReadonlySet<string> = new Set()): ShimAction[] {
  const byName = new Map(actual.map((a) => [a.name, a]))
  const out: ShimAction[] = []
  const wanted = new Set(desired.map((d) => d.name))
  for (const a of actual) {
    if (SHIM_NAME.test(a.name) && !wanted.has(a.name) && owned.has(a.name)) out.push({ op: 'del-link', name: a.name })
  }
  for (const d of desired) {
    const a = byName.get(d.name)
    out.push(...(a === undefined ? create(d) : repair(d, a)))
  }
  return out
}

/** The iproute2 argv of one step. */
export function ipArgs (a: ShimAction): string[] {
  switch (a.op) {
    case 'add-link': return ['link', 'add', 'link', a.parent, 'name', a.name, 'address', a.mac, 'type', 'macvlan', 'mode', 'bridge']
    case 'del-link': return ['link', 'del', 'dev', a.name]
    case 'set-up': return ['link', 'set', 'dev', a.name, 'up']
    case 'add-addr': return ['addr', 'add', a.address, 'dev', a.name]
    case 'del-addr': return ['addr', 'del', a.address, 'dev', a.name]
    // replace: a route to the same destination elsewhere (a stale shim) is taken over, not an error.
    case 'add-route': return ['route', 'replace', a.dst, 'dev', a.name, 'src', a.src]
    case 'del-route': return ['route', 'del', a.dst, 'dev', a.name]
  }
}
