// Spec + assignment → Docker create options, and a Docker list entry → the
// managed container it describes. Pure.
import type { ContainerCreateOptions } from 'dockerode'
import { healthSettings, specDemand, specGraceMs, type Health, type ServiceSpec } from '../../core/index.js'
import { LABEL } from '../docker/labels.js'
import { healthLabelsOf } from '../health/labels.js'

/** What the reconciler knows of a container it manages. */
export interface ManagedContainer {
  id: string
  name: string
  service: string
  replica: number
  specHash: string
  /** Placement's replacement count (label driftgate.incarnation, absent: 0). */
  incarnation: number
  running: boolean
  health: Health
  /** Seconds since epoch (Docker's `Created`). */
  created: number
}

export interface ListItem {
  Id: string
  Names?: string[]
  Labels?: Record<string, string> | null
  State?: string
  Status?: string
  Created?: number
}

export function containerName (service: string, replica: number, specHash: string, incarnation = 0): string {
  return `dg-${service}-${replica}-${specHash.slice(0, 8)}${incarnation > 0 ? `-r${incarnation}` : ''}`
}

function healthFromStatusText (status: string | undefined): Health {
  if (status === undefined) return 'none'
  if (status.includes('(healthy)')) return 'healthy'
  if (status.includes('(unhealthy)')) return 'unhealthy'
  if (status.includes('health: starting')) return 'starting'
  return 'none'
}

/** A Docker list entry → a managed container, or null when it is not one of ours (or its labels are damaged). */
export function managedOf (item: ListItem): ManagedContainer | null {
  const l = item.Labels ?? {}
  if (l[LABEL.managed] !== 'true') return null
  const replica = Number(l[LABEL.replica])
  const service = l[LABEL.service]
  const hash = l[LABEL.spec]
  const inc = l[LABEL.incarnation] === undefined ? 0 : Number(l[LABEL.incarnation])
  if (service === undefined || hash === undefined || !Number.isInteger(replica) || replica < 0) return null
  if (!Number.isInteger(inc) || inc < 0) return null
  return {
    id: item.Id,
    name: (item.Names?.[0] ?? '').replace(/^\//, ''),
    service,
    replica,
    specHash: hash,
    incarnation: inc,
    running: item.State === 'running' || item.State === 'restarting',
    health: healthFromStatusText(item.Status),
    created: item.Created ?? 0,
  }
}

const NS = 1e6 // ms → ns

/** The resolver a replica gets: the agent's DNS stub on the network's shim, searching `service.<domain>`. */
export interface ContainerDns { Dns: string[], DnsSearch: string[] }

/** Docker create options for one replica. The IPAM driver of spec.network hands out its address. */
export function createOptions (spec: ServiceSpec, replica: number, specHash: string, incarnation = 0, dns?: ContainerDns): ContainerCreateOptions {
  const demand = specDemand(spec)
  const labels: Record<string, string> = {
    [LABEL.service]: spec.name,
    [LABEL.port]: String(spec.port),
    [LABEL.network]: spec.network,
    [LABEL.managed]: 'true',
    [LABEL.replica]: String(replica),
    [LABEL.spec]: specHash,
    ...(incarnation > 0 ? { [LABEL.incarnation]: String(incarnation) } : {}),
    // The agent's own HTTP check (issue 19): the agent reads these labels.
    ...healthLabelsOf(spec.health),
  }
  const opts: ContainerCreateOptions = {
    name: containerName(spec.name, replica, specHash, incarnation),
    Image: spec.image,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: labels,
    StopTimeout: Math.ceil(specGraceMs(spec) / 1000),
    HostConfig: {
      NetworkMode: spec.network,
      // Docker restarts a crashed replica itself; the reconciler handles the rest.
      RestartPolicy: { Name: 'unless-stopped' },
      ...(demand.cpus > 0 ? { NanoCpus: Math.round(demand.cpus * 1e9) } : {}),
      ...(demand.memoryBytes > 0 ? { Memory: demand.memoryBytes } : {}),
      ...(dns !== undefined ? dns : {}),
    },
    NetworkingConfig: { EndpointsConfig: { [spec.network]: {} } },
  }
  if (spec.command !== undefined) opts.Cmd = spec.command
  if (spec.health?.cmd !== undefined) {
    // `cmd` runs inside the container through Docker's healthcheck; an HTTP
    // check is the agent's (labels above), so images without a shell work.
    const h = healthSettings(spec.health)
    opts.Healthcheck = {
      Test: ['CMD', ...spec.health.cmd],
      Interval: h.intervalMs * NS,
      Timeout: h.timeoutMs * NS,
      Retries: h.retries,
      StartPeriod: h.startPeriodMs * NS,
    }
  }
  return opts
}
