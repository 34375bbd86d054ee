// container → EndpointInfo | the reason it is not one. Pure: takes Docker's
// inspect JSON (or a list entry adapted to that shape) and the set of MacVLAN
// network ids; the agent resolves network drivers before calling it.
import type { EndpointInfo, Health } from '../../core/index.js'
import { endpointIpProblem, isContainerId, isIPv4 } from '../../core/index.js'
import { hasServiceLabel, parseLabels, type RejectReason } from './labels.js'

/** The part of `docker inspect` the agent reads. */
export interface InspectNetwork { NetworkID?: string, IPAddress?: string, MacAddress?: string }
export interface ContainerInspect {
  Id: string
  Name?: string
  Config?: { Labels?: Record<string, string> | null } | null
  State?: { Running?: boolean, Paused?: boolean, Restarting?: boolean, Health?: { Status?: string } | null } | null
  NetworkSettings?: { Networks?: Record<string, InspectNetwork> | null } | null
  HostConfig?: { NanoCpus?: number, Memory?: number } | null
}

export interface ClassifyContext {
  /** Ids of the networks whose driver is macvlan. */
  macvlan: ReadonlySet<string>
  /** The agent's --network: used when the container has no driftgate.network label. */
  defaultNetwork?: string
  /** A stop or kill has begun for this container. */
  draining?: boolean
}

export type Classified =
  | { kind: 'endpoint', endpoint: EndpointInfo }
  | { kind: 'unlabelled' }
  /** Labelled and valid, but not running (or restarting): not routable. */
  | { kind: 'stopped', service: string }
  | { kind: 'rejected', reason: RejectReason, message: string, service?: string }

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

export function healthOf (status: string | undefined): Health {
  return status === 'healthy' || status === 'unhealthy' || status === 'starting' ? status : 'none'
}

type Pick = { ok: true, name: string, net: InspectNetwork } | { ok: false, reason: RejectReason, message: string }

/** Chooses the network whose address is the endpoint's: label, else --network, else the only MacVLAN one. */
export function pickNetwork (networks: Record<string, InspectNetwork>, ctx: ClassifyContext, wanted?: string): Pick {
  const named = wanted ?? ctx.defaultNetwork
  if (named !== undefined) {
    const net = networks[named]
    if (net == null) {
      return { ok: false, reason: 'network_not_attached', message: `container is not attached to network ${JSON.stringify(named)}` }
    }
    return { ok: true, name: named, net }
  }
  const mv = Object.entries(networks).filter(([, n]) => n.NetworkID != null && ctx.macvlan.has(n.NetworkID))
  if (mv.length === 0) return { ok: false, reason: 'no_macvlan_network', message: 'container is on no MacVLAN network' }
  if (mv.length > 1) {
    return {
      ok: false,
      reason: 'ambiguous_network',
      message: `container is on several MacVLAN networks (${mv.map(([n]) => n).join(', ')}): set the driftgate.network label`,
    }
  }
  return { ok: true, name: mv[0][0], net: mv[0][1] }
}

export function classifyContainer (c: ContainerInspect, ctx: ClassifyContext): Classified {
  const labels = c.Config?.Labels
  if (!hasServiceLabel(labels)) return { kind: 'unlabelled' }
  const parsed = parseLabels(labels as Record<string, string>)
  if (!parsed.ok) return { kind: 'rejected', reason: parsed.reason, message: parsed.message, service: parsed.service }
  const l = parsed.labels
  if (!isContainerId(c.Id)) {
    return { kind: 'rejected', reason: 'invalid_container', message: `container id ${JSON.stringify(String(c.Id).slice(0, 80))} is not a Docker id`, service: l.service }
  }
  const st = c.State ?? {}
  if (st.Running !== true || st.Restarting === true) return { kind: 'stopped', service: l.service }

  const pick = pickNetwork(c.NetworkSettings?.Networks ?? {}, ctx, l.network)
  if (!pick.ok) return { kind: 'rejected', reason: pick.reason, message: pick.message, service: l.service }
  const ip = pick.net.IPAddress ?? ''
  const mac = (pick.net.MacAddress ?? '').toLowerCase()
  if (!isIPv4(ip) || !MAC.test(mac)) {
    return { kind: 'rejected', reason: 'no_ip', message: `container has no IPv4 and MAC address on network ${pick.name}`, service: l.service }
  }
  const ipProblem = endpointIpProblem(ip)
  if (ipProblem !== null) {
    return { kind: 'rejected', reason: 'bad_ip', message: `address ${ip} on network ${pick.name} is ${ipProblem}: not routable as an endpoint`, service: l.service }
  }
  const endpoint: EndpointInfo = {
    service: l.service,
    containerId: c.Id,
    ip,
    mac,
    port: l.port,
    network: pick.name,
    state: st.Paused === true ? 'paused' : ctx.draining === true ? 'draining' : 'running',
    health: healthOf(st.Health?.Status),
    weight: l.weight,
  }
  const name = (c.Name ?? '').replace(/^\//, '')
  if (NAME.test(name)) endpoint.name = name
  if (l.managed !== undefined) endpoint.managed = l.managed
  if (l.replica !== undefined) endpoint.replica = l.replica
  if (l.specHash !== undefined) endpoint.specHash = l.specHash
  if (l.hosts !== undefined) endpoint.hosts = l.hosts
  if (l.path !== undefined) endpoint.path = l.path
  return { kind: 'endpoint', endpoint }
}

/** The part of a `docker ps` (container list) entry the agent reads. */
export interface ContainerListItem {
  Id: string
  Names?: string[]
  Labels?: Record<string, string> | null
  State?: string
  Status?: string
  NetworkSettings?: { Networks?: Record<string, InspectNetwork> | null } | null
}

/** Health as `docker ps` shows it in Status: "Up 3 minutes (healthy)", "(health: starting)". */
export function healthFromStatus (status: string | undefined): Health {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(status ?? '')
  if (m == null) return 'none'
  return m[1] === 'health: starting' ? 'starting' : (m[1] as Health)
}

/** Adapts a list entry to the inspect shape so snapshots need one list call, not one inspect per container. */
export function listItemToInspect (item: ContainerListItem): ContainerInspect {
  const health = healthFromStatus(item.Status)
  return {
    Id: item.Id,
    Name: item.Names?.[0],
    Config: { Labels: item.Labels ?? {} },
    State: {
      Running: item.State === 'running' || item.State === 'paused',
      Paused: item.State === 'paused',
      Restarting: item.State === 'restarting',
      Health: health === 'none' ? null : { Status: health },
    },
    NetworkSettings: item.NetworkSettings ?? null,
  }
}
