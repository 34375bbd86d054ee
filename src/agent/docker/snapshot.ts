// Building a snapshot from one container list. Pure.
//
// Events published while the list was being taken may be newer than the list,
// so the agent records them (`Overrides`) and lays them over the listed state
// before it numbers and publishes the snapshot: a snapshot then reflects
// Docker at least as new as every message with a lower sequence number.
import type { EndpointInfo } from '../../core/index.js'
import { isContainerId } from '../../core/index.js'
import { classifyContainer, listItemToInspect, type ClassifyContext, type ContainerListItem } from './endpoint.js'
import type { RejectReason } from './labels.js'
import type { HttpCheck } from '../health/labels.js'

export interface Rejection { containerId: string, reason: RejectReason, message: string }

export interface SnapshotBody {
  endpoints: EndpointInfo[]
  /** Every container on the host, any state (for IPAM leak checks). */
  containers: string[]
  rejected: Rejection[]
  /** Labelled containers, running or not: their service, or null when the service label is invalid. */
  labelled: Map<string, string | null>
  /** Endpoints with the agent's own HTTP check (issue 19): the monitor checks these. */
  checks?: Array<{ endpoint: EndpointInfo, check: HttpCheck, startedAt?: number }>
}

/** What the latest published event said about one container. */
export type Override = { kind: 'upsert', endpoint: EndpointInfo } | { kind: 'remove', destroyed: boolean }

export function buildSnapshot (
  items: ContainerListItem[],
  ctx: ClassifyContext,
  draining: ReadonlySet<string> = new Set(),
): SnapshotBody {
  const endpoints: EndpointInfo[] = []
  const containers: string[] = []
  const rejected: Rejection[] = []
  const labelled = new Map<string, string | null>()
  const checks: NonNullable<SnapshotBody['checks']> = []
  for (const item of items) {
    if (isContainerId(item.Id)) containers.push(item.Id)
    const c = classifyContainer(listItemToInspect(item), { ...ctx, draining: draining.has(item.Id) })
    if (c.kind === 'endpoint') {
      endpoints.push(c.endpoint)
      labelled.set(item.Id, c.endpoint.service)
      // A list has no start time: creation is the closest (the start period runs from no later).
      if (c.check !== undefined) checks.push({ endpoint: c.endpoint, check: c.check, ...(item.Created !== undefined ? { startedAt: item.Created * 1000 } : {}) })
    } else if (c.kind === 'stopped') {
      labelled.set(item.Id, c.service)
    } else if (c.kind === 'rejected') {
      rejected.push({ containerId: item.Id, reason: c.reason, message: c.message })
      labelled.set(item.Id, c.service ?? null)
    }
  }
  return { endpoints, containers, rejected, labelled, checks }
}

/** Lays events published during the listing over the listed state. */
export function applyOverrides (body: SnapshotBody, overrides: ReadonlyMap<string, Override>): SnapshotBody {
  if (overrides.size === 0) return body
  const byId = new Map(body.endpoints.map((e) => [e.containerId, e]))
  const containers = new Set(body.containers)
  for (const [id, o] of overrides) {
    if (o.kind === 'upsert') {
      byId.set(id, o.endpoint)
      containers.add(id)
    } else {
      byId.delete(id)
      if (o.destroyed) containers.delete(id)
    }
  }
  return { ...body, endpoints: [...byId.values()], containers: [...containers] }
}
