// Fake KvTables for pure lookup tests: the same entries/revision/'change'
// surface as src/bus/table.ts, driven by hand.
import { EventEmitter } from 'node:events'
import type { EndpointRecord, HostRecord, ServiceRecord } from '../../src/core/index.js'
import type { KvTable } from '../../src/bus/index.js'
import { LookupView, type LookupTables } from '../../src/registry/lookup/view.js'

export class FakeTable<T> extends EventEmitter {
  readonly entries = new Map<string, T>()
  revision = 0
  put (key: string, value: T): number {
    const previous = this.entries.get(key)
    this.entries.set(key, value)
    this.emit('change', { key, value, previous, revision: ++this.revision })
    return this.revision
  }

  del (key: string): number {
    const previous = this.entries.get(key)
    this.entries.delete(key)
    if (previous !== undefined) this.emit('change', { key, value: undefined, previous, revision: ++this.revision })
    return this.revision
  }
}

export interface Fakes { endpoints: FakeTable<EndpointRecord>, hosts: FakeTable<HostRecord>, services: FakeTable<ServiceRecord> }

export function fakeView (): { view: LookupView, t: Fakes } {
  const t: Fakes = { endpoints: new FakeTable(), hosts: new FakeTable(), services: new FakeTable() }
  const view = new LookupView(t as unknown as LookupTables)
  return { view, t }
}

let n = 0
export function ep (service: string, ip: string, over: Partial<EndpointRecord> = {}): EndpointRecord {
  n++
  return {
    v: 1, service, containerId: over.containerId ?? `${n.toString(16).padStart(12, '0')}abcdef`, ip, mac: '02:42:0a:f0:00:01',
    port: 8080, network: 'mv0', state: 'running', health: 'healthy', weight: 1,
    host: 'h1', instance: '0000000aa-abcdef', seq: n, updatedAt: Date.now(), ...over,
  }
}

export function putEp (t: Fakes, rec: EndpointRecord): number { return t.endpoints.put(`${rec.service}.${rec.containerId}`, rec) }

export function host (name: string): HostRecord {
  return {
    v: 1, host: name, instance: '0000000aa-abcdef', capacity: { cpus: 2, memoryBytes: 1e9 },
    allocated: { cpus: 0, memoryBytes: 0, containers: 0 }, labels: {}, lastSeen: 1, status: 'up', since: 1,
  }
}

export function serviceRec (name: string, version = 1): ServiceRecord {
  return {
    v: 1, version, updatedAt: 1,
    spec: { name, image: 'img:1', replicas: 1, port: 8080, network: 'mv0', resources: {}, env: {}, upstream: {}, placement: { spread: 'host' } },
  }
}

export type { KvTable }
