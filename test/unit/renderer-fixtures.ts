// Shared record builders for the renderer's unit tests (not a test file).
import type { EndpointRecord, ServiceRecord, ServiceSpec } from '../../src/core/index.js'

export function cid (n: number): string { return n.toString(16).padStart(12, '0').padEnd(64, 'a') }

export function ep (service: string, n: number, over: Partial<EndpointRecord> = {}): [string, EndpointRecord] {
  const rec: EndpointRecord = {
    v: 1, service, containerId: cid(n), ip: `10.240.1.${n}`, mac: '02:42:0a:f0:01:01', port: 80, network: 'mv0',
    state: 'running', health: 'none', weight: 1, host: 'h1', instance: '000000000-abcdef', seq: n, updatedAt: 1,
    ...over,
  }
  return [`${rec.service}.${rec.containerId}`, rec]
}

export function svc (name: string, upstream: ServiceSpec['upstream'] = {}): [string, ServiceRecord] {
  return [name, {
    v: 1, version: 1, updatedAt: 1,
    spec: { name, image: 'img', replicas: 1, port: 80, network: 'mv0', resources: {}, env: {}, upstream, placement: {} },
  }]
}
