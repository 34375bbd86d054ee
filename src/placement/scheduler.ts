// The scheduler: a pure function from (specs, hosts, current assignments) to
// the assignments that should exist. Rules, in order of precedence:
//  - hard fit: a replica is only booked on an `up` host with the CPU and
//    memory its spec asks for still free (capacity minus other assignments);
//  - stable: a replica keeps its host unless that host is down (or gone), the
//    host is over-committed, or the service scales down;
//  - spread: a new replica goes to the spread domain (host, or the value of
//    the host label named by `placement.spread`) with fewest of the service's
//    replicas; scale-down removes from the most crowded domain first;
//  - fail static: when more than half of the known hosts are down, nothing
//    is taken off a down host (a network split looks exactly like that).
import { assignmentKey, specDemand, specHash, type AssignmentRecord, type HostRecord, type ServiceSpec } from '../core/index.js'
import { HostSlot, unfitReason, type Demand } from './capacity.js'
import { Domains, domainOf } from './spread.js'
import type { ScheduleInput, ScheduleResult, SpecEntry, Unschedulable } from './types.js'

interface Plan {
  entry: SpecEntry
  hash: string
  demand: Demand
  spread: string
  kept: AssignmentRecord[]
  /** Replica indexes that need a host. */
  toPlace: number[]
}

/** Known hosts are host records plus hosts named by assignments; a host without a record counts as down. */
export function isFailStatic (hosts: HostRecord[], assignments: AssignmentRecord[]): boolean {
  const known = new Set(hosts.map((h) => h.host))
  let down = hosts.filter((h) => h.status === 'down').length
  for (const a of assignments) {
    if (!known.has(a.host)) { known.add(a.host); down++ }
  }
  return known.size > 0 && down * 2 > known.size
}

export function schedule (input: ScheduleInput): ScheduleResult {
  const now = input.now ?? Date.now()
  const hosts = new Map(input.hosts.map((h) => [h.host, h]))
  const failStatic = isFailStatic(input.hosts, input.assignments)
  const slotList = [...hosts.values()].sort((a, b) => cmp(a.host, b.host)).map((h, i) => new HostSlot(h, i))
  const slots = new Map(slotList.map((s) => [s.rec.host, s]))
  const upSlots = slotList.filter((s) => s.rec.status === 'up')
  const ctx: PlaceContext = { upSlots, slots, domains: new Domains(slotList), now, allHosts: input.hosts }

  const byService = new Map<string, AssignmentRecord[]>()
  for (const a of input.assignments) {
    const list = byService.get(a.service)
    if (list === undefined) byService.set(a.service, [a]); else list.push(a)
  }
  const specs = uniqueByName(input.specs)
  const plans = specs.map((entry) => planService(entry, byService.get(entry.spec.name) ?? [], hosts, failStatic))
  for (const p of plans) for (const a of p.kept) slots.get(a.host)?.book(p.demand)
  evictOvercommitted(plans, slots)

  const out: AssignmentRecord[] = []
  const unschedulable: Unschedulable[] = []
  for (const p of plans) {
    for (const a of p.kept) {
      out.push(a.specHash === p.hash ? a : { ...a, specHash: p.hash, specVersion: p.entry.version })
    }
    placeNew(p, ctx, out, unschedulable)
  }
  return { assignments: sortByKey(out), unschedulable, failStatic }
}

function sortByKey (list: AssignmentRecord[]): AssignmentRecord[] {
  const keyed = list.map((a) => ({ k: assignmentKey(a), a }))
  keyed.sort((x, y) => cmp(x.k, y.k))
  return keyed.map((x) => x.a)
}

function uniqueByName (specs: SpecEntry[]): SpecEntry[] {
  const m = new Map<string, SpecEntry>()
  for (const s of specs) {
    const prev = m.get(s.spec.name)
    if (prev === undefined || s.version > prev.version) m.set(s.spec.name, s)
  }
  return [...m.values()].sort((a, b) => cmp(a.spec.name, b.spec.name))
}

function planService (entry: SpecEntry, existing: AssignmentRecord[], hosts: Map<string, HostRecord>, failStatic: boolean): Plan {
  const spec = entry.spec
  const spread = spec.placement.spread ?? 'host'
  const usable = (a: AssignmentRecord): boolean => {
    const h = hosts.get(a.host)
    return h === undefined ? failStatic : (h.status !== 'down' || failStatic)
  }
  // One record per replica: a replica assigned twice (a race, a half-applied
  // move) keeps its best copy; the others disappear and their agents stop them.
  const best = new Map<number, AssignmentRecord>()
  for (const a of existing) {
    const cur = best.get(a.replica)
    if (cur === undefined || better(a, cur, hosts, usable)) best.set(a.replica, a)
  }
  const kept = [...best.values()].filter(usable)
  const lost = [...best.values()].filter((a) => !usable(a)).map((a) => a.replica).sort((a, b) => a - b)
  let excess = kept.length + lost.length - spec.replicas
  while (excess > 0 && lost.length > 0) { lost.pop(); excess-- }
  for (; excess > 0; excess--) kept.splice(kept.indexOf(victim(kept, hosts, spread)), 1)

  const used = new Set([...kept.map((a) => a.replica), ...lost])
  const toPlace = [...lost]
  for (let r = 0; kept.length + toPlace.length < spec.replicas; r++) {
    if (!used.has(r)) toPlace.push(r)
  }
  return { entry, hash: hashOf(spec), demand: specDemand(spec), spread, kept, toPlace }
}

// The leader loop hands the same spec objects (from its KV mirror) to every
// run; hashing a thousand specs costs more than placing their replicas.
const hashes = new WeakMap<ServiceSpec, string>()
function hashOf (spec: ServiceSpec): string {
  let h = hashes.get(spec)
  if (h === undefined) { h = specHash(spec); hashes.set(spec, h) }
  return h
}

function better (a: AssignmentRecord, b: AssignmentRecord, hosts: Map<string, HostRecord>, usable: (x: AssignmentRecord) => boolean): boolean {
  const rank = (x: AssignmentRecord): number => (usable(x) ? 0 : 2) + (hosts.get(x.host)?.status === 'up' ? 0 : 1)
  if (rank(a) !== rank(b)) return rank(a) < rank(b)
  if (a.since !== b.since) return a.since < b.since
  return a.host < b.host
}

// Scale-down victim: a replica on a host that is not up, else one in the
// most crowded spread domain, else the highest replica index.
function victim (kept: AssignmentRecord[], hosts: Map<string, HostRecord>, spread: string): AssignmentRecord {
  const perDomain = new Map<string, number>()
  const dom = (a: AssignmentRecord): string => domainOf(hosts.get(a.host), a.host, spread)
  for (const a of kept) perDomain.set(dom(a), (perDomain.get(dom(a)) ?? 0) + 1)
  const key = (a: AssignmentRecord): [number, number, number] =>
    [hosts.get(a.host)?.status === 'up' ? 0 : 1, perDomain.get(dom(a)) ?? 0, a.replica]
  let worst = kept[0]
  for (const a of kept) {
    const [x, y] = [key(a), key(worst)]
    if (x[0] > y[0] || (x[0] === y[0] && (x[1] > y[1] || (x[1] === y[1] && x[2] > y[2])))) worst = a
  }
  return worst
}

// A spec that grew (or a host that shrank) can over-commit a host: its newest
// replicas go back to be placed again, oldest stay.
function evictOvercommitted (plans: Plan[], slots: Map<string, HostSlot>): void {
  const onHost = new Map<string, Array<{ plan: Plan, a: AssignmentRecord }>>()
  for (const plan of plans) {
    for (const a of plan.kept) {
      const list = onHost.get(a.host)
      if (list === undefined) onHost.set(a.host, [{ plan, a }]); else list.push({ plan, a })
    }
  }
  for (const [host, list] of onHost) {
    const slot = slots.get(host)
    if (slot === undefined || !slot.overcommitted()) continue
    list.sort((x, y) => y.a.since - x.a.since || cmp(y.a.service, x.a.service) || y.a.replica - x.a.replica)
    for (const { plan, a } of list) {
      if (!slot.overcommitted()) break
      slot.release(plan.demand)
      plan.kept.splice(plan.kept.indexOf(a), 1)
      plan.toPlace.push(a.replica)
    }
  }
}

interface PlaceContext {
  upSlots: HostSlot[]
  slots: Map<string, HostSlot>
  domains: Domains
  now: number
  allHosts: HostRecord[]
}

function placeNew (p: Plan, ctx: PlaceContext, out: AssignmentRecord[], unschedulable: Unschedulable[]): void {
  if (p.toPlace.length === 0) return
  const dom = ctx.domains.of(p.spread)
  const perDomain = new Int32Array(dom.byName.size)
  const perHost = new Int32Array(ctx.slots.size)
  for (const a of p.kept) {
    const s = ctx.slots.get(a.host)
    if (s === undefined) continue
    perDomain[dom.ofSlot[s.index]]++
    perHost[s.index]++
  }
  let reason: string | undefined
  for (const replica of p.toPlace.sort((a, b) => a - b)) {
    const slot = reason === undefined ? pick(p, ctx.upSlots, dom.ofSlot, perDomain, perHost) : undefined
    if (slot === undefined) {
      reason ??= unfitReason(p.demand, ctx.upSlots, ctx.allHosts)
      unschedulable.push({ service: p.entry.spec.name, replica, reason })
      continue
    }
    slot.book(p.demand)
    perDomain[dom.ofSlot[slot.index]]++
    perHost[slot.index]++
    out.push({ v: 1, host: slot.rec.host, service: p.entry.spec.name, replica, specVersion: p.entry.version, specHash: p.hash, since: ctx.now })
  }
}

// Fewest of this service in the domain, then on the host, then the emptiest
// host (free share of memory plus CPU), then the host id (upSlots is sorted).
function pick (p: Plan, upSlots: HostSlot[], ofSlot: Int32Array, perDomain: Int32Array, perHost: Int32Array): HostSlot | undefined {
  let best: HostSlot | undefined
  let bd = 0; let bh = 0; let bf = 0
  for (const s of upSlots) {
    const d = perDomain[ofSlot[s.index]]
    if (best !== undefined && d > bd) continue
    const h = perHost[s.index]
    if (best !== undefined && d === bd && (h > bh || (h === bh && s.freeShare <= bf))) continue
    if (!s.fits(p.demand)) continue
    best = s; bd = d; bh = h; bf = s.freeShare
  }
  return best
}

function cmp (a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0 }
