// Spec + assignment → Docker create options, and a Docker list entry → the
// managed container it describes. Pure.
import type { ContainerCreateOptions } from 'dockerode'
import { parseDuration, specDemand, specGraceMs, type Health, type ServiceSpec } from '../../core/index.js'
import { LABEL } from '../docker/labels.js'

/** What the reconciler knows of a container it manages. */
export interface ManagedContainer {
  id: string
  name: string
  service: string
  replica: number
  specHash: string
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

export function containerName (service: string, replica: number, specHash: string): string {
  return `dg-${service}-${replica}-${specHash.slice(0, 8)}`
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
  if (service === undefined || hash === undefined || !Number.isInteger(replica) || replica < 0) return null
  return {
    id: item.Id,
    name: (item.Names?.[0] ?? '').replace(/^\//, ''),
    service,
    replica,
    specHash: hash,
    running: item.State === 'running' || item.State === 'restarting',
    health: healthFromStatusText(item.Status),
    created: item.Created ?? 0,
  }
}

const NS = 1e6 // ms → ns

/** The resolver a replica gets: the agent's DNS stub on the network's shim, searching `service.<domain>`. */
export interface ContainerDns { Dns: string[], DnsSearch: string[] }

/** Docker create options for one replica. The IPAM driver of spec.network hands out its address. */
export function createOptions (spec: ServiceSpec, replica: number, specHash: string, dns?: ContainerDns): ContainerCreateOptions {
  const demand = specDemand(spec)
  const labels: Record<string, string> = {
    [LABEL.service]: spec.name,
    [LABEL.port]: String(spec.port),
    [LABEL.network]: spec.network,
    [LABEL.managed]: 'true',
    [LABEL.replica]: String(replica),
    [LABEL.spec]: specHash,
  }
  const opts: ContainerCreateOptions = {
    name: containerName(spec.name, replica, specHash),
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
  if (spec.health?.http !== undefined) {
    const interval = parseDuration(spec.health.interval ?? '5s')
    opts.Healthcheck = {
      // busybox wget: present in the slimmest images. No -T: it crashes some
      // static busybox builds; Docker's Timeout bounds the probe instead.
      Test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${spec.port}${spec.health.http}`],
      Interval: interval * NS,
      Timeout: interval * NS,
      Retries: 3,
      StartPeriod: interval * 2 * NS,
    }
  }
  return opts
}
