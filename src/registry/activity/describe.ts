// Pure: a table change → the activity event it is worth, or null when nothing
// an operator would see changed (snapshots rewrite records with a new seq).
import type { ActivityEvent } from '../../bus/index.js'
import type { AppliedMessage, AssignmentRecord, EndpointRecord, HostRecord, ServiceRecord } from '../../core/index.js'

interface Change<T> { value: T | undefined, previous: T | undefined }

const live = (e: EndpointRecord | undefined): EndpointRecord | undefined => (e?.removed === true ? undefined : e)

export function endpointEvent (c: Change<EndpointRecord>, at: number): ActivityEvent | null {
  const after = live(c.value)
  const before = live(c.previous)
  const e = after ?? before
  if (e === undefined) return null
  const what = (x: EndpointRecord): string => `${x.state}/${x.health}`
  if (after !== undefined && before !== undefined && what(after) === what(before) && after.ip === before.ip) return null
  const who = `${e.service}${e.replica !== undefined ? ` replica ${e.replica}` : ''} on ${e.host} (${e.ip})`
  const message = after === undefined ? `${who} removed` : before === undefined ? `${who} ${what(after)}` : `${who} ${what(before)} → ${what(after)}`
  return { kind: 'endpoint', at, service: e.service, host: e.host, message, data: { containerId: e.containerId, ip: e.ip, state: after?.state ?? 'removed', health: after?.health ?? null } }
}

export function hostEvent (c: Change<HostRecord>, at: number): ActivityEvent | null {
  const h = c.value ?? c.previous
  if (h === undefined) return null
  if (c.value !== undefined && c.previous !== undefined && c.value.status === c.previous.status) return null
  const status = c.value?.status ?? 'forgotten'
  return { kind: 'host', at, host: h.host, message: `host ${h.host} ${c.previous?.status ?? 'new'} → ${status}`, data: { status } }
}

export function assignmentEvent (c: Change<AssignmentRecord>, at: number): ActivityEvent | null {
  const a = c.value ?? c.previous
  if (a === undefined) return null
  if (c.value !== undefined && c.previous !== undefined && c.value.specHash === c.previous.specHash) return null
  const message = c.value === undefined
    ? `placement: ${a.service} replica ${a.replica} leaves ${a.host}`
    : c.previous === undefined
      ? `placement: ${a.service} replica ${a.replica} → ${a.host} (version ${a.specVersion})`
      : `placement: ${a.service} replica ${a.replica} on ${a.host} updated to version ${a.specVersion}`
  return { kind: 'placement', at, service: a.service, host: a.host, message, data: { replica: a.replica, specVersion: a.specVersion } }
}

export function specEvent (key: string, c: Change<ServiceRecord>, at: number): ActivityEvent | null {
  if (c.value === undefined) return { kind: 'spec', at, service: key, message: `service ${key} deleted` }
  const s = c.value.spec
  return { kind: 'spec', at, service: key, message: `service ${key} version ${c.value.version}: ${s.image}, ${s.replicas} replica${s.replicas === 1 ? '' : 's'}`, data: { version: c.value.version } }
}

export function appliedEvent (m: AppliedMessage, at: number): ActivityEvent {
  return { kind: 'render', at, renderer: m.renderer, message: `renderer ${m.renderer} applied generation ${m.generation} (${m.count ?? m.containers?.length ?? 0} containers)`, data: { generation: m.generation } }
}

/**
 * IPAM bucket changes, undecoded (pools `pool.<name>`, addresses
 * `<pool>.<ip-with-dashes>`): a pool defined or removed, an address changing
 * state. The value is read only for its `state` and `owner.host`.
 */
export function ipamEvent (key: string, value: unknown, previous: unknown, at: number): ActivityEvent | null {
  const v = value as { state?: string, owner?: { host?: string } } | undefined
  const p = previous as { state?: string } | undefined
  if (key.startsWith('pool.')) {
    const pool = key.slice(5)
    return { kind: 'ipam', at, message: `pool ${pool} ${v === undefined ? 'removed' : p === undefined ? 'created' : 'changed'}`, data: { pool } }
  }
  const dot = key.indexOf('.')
  if (dot < 0 || v?.state === p?.state) return null
  const ip = key.slice(dot + 1).replace(/-/g, '.')
  const host = v?.owner?.host
  return { kind: 'ipam', at, host, message: `${ip} ${p?.state ?? 'free'} → ${v?.state ?? 'free'}${host !== undefined ? ` (${host})` : ''}`, data: { pool: key.slice(0, dot), ip } }
}
