// Snapshots from a container list, and events laid over them. Pure.
import t from 'tap'
import { applyOverrides, buildSnapshot } from '../../src/agent/docker/snapshot.js'
import { healthFromStatus, listItemToInspect, type ContainerListItem } from '../../src/agent/docker/endpoint.js'
import { checkSnapshot } from '../../src/core/index.js'

const MV = 'f'.repeat(64)
const id = (c: string): string => c.repeat(64)
const item = (c: string, over: Partial<ContainerListItem> = {}): ContainerListItem => ({
  Id: id(c),
  Names: [`/c-${c}`],
  Labels: { 'driftgate.service': 'web' },
  State: 'running',
  Status: 'Up 2 seconds',
  NetworkSettings: { Networks: { mv0: { NetworkID: MV, IPAddress: `10.240.0.${c.charCodeAt(0) % 200}`, MacAddress: '02:42:0a:f0:00:01' } } },
  ...over,
})

t.test('health from docker ps status', async (t) => {
  t.equal(healthFromStatus('Up 3 minutes (healthy)'), 'healthy')
  t.equal(healthFromStatus('Up 3 minutes (unhealthy)'), 'unhealthy')
  t.equal(healthFromStatus('Up 1 second (health: starting)'), 'starting')
  t.equal(healthFromStatus('Up 3 minutes'), 'none')
  t.equal(healthFromStatus(undefined), 'none')
})

t.test('list item adapts to the inspect shape', async (t) => {
  const x = listItemToInspect(item('a', { State: 'paused', Status: 'Up 1 minute (Paused)' }))
  t.match(x, { Id: id('a'), Name: '/c-a', State: { Running: true, Paused: true } })
  t.equal(listItemToInspect(item('a', { State: 'exited' })).State?.Running, false)
})

t.test('buildSnapshot sorts containers into endpoints, rejections, others', async (t) => {
  const items = [
    item('a'),
    item('b', { Labels: {} }),
    item('c', { State: 'exited' }),
    item('d', { Labels: { 'driftgate.service': 'x;}server{listen 1' } }),
    item('e', { Labels: { 'driftgate.service': 'api', 'driftgate.port': '99999' } }),
    item('1', { Status: 'Up 5 minutes (unhealthy)' }),
  ]
  const s = buildSnapshot(items, { macvlan: new Set([MV]) }, new Set([id('1')]))
  t.same(s.endpoints.map((e) => e.containerId), [id('a'), id('1')])
  t.match(s.endpoints[1], { state: 'draining', health: 'unhealthy' })
  t.equal(s.containers.length, 6, 'every container is listed for IPAM')
  t.same(s.rejected.map((r) => r.reason).sort(), ['invalid_port', 'invalid_service'])
  t.same([...s.labelled.keys()].sort(), [id('a'), id('c'), id('d'), id('e'), id('1')].sort())
  t.equal(s.labelled.get(id('d')), null, 'invalid service: known, never published')
  t.doesNotThrow(() => checkSnapshot({ v: 1, host: 'h1', instance: '000000001-abcdef', seq: 1, time: 1, sentAt: 1, endpoints: s.endpoints, containers: s.containers }))
})

t.test('events recorded while listing win over the list', async (t) => {
  const s = buildSnapshot([item('a'), item('b')], { macvlan: new Set([MV]) })
  const newer = { ...s.endpoints[1], ip: '10.240.0.99' }
  const c = { ...s.endpoints[0], containerId: id('c') }
  const out = applyOverrides(s, new Map([
    [id('a'), { kind: 'remove', destroyed: true }],
    [id('b'), { kind: 'upsert', endpoint: newer }],
    [id('c'), { kind: 'upsert', endpoint: c }],
  ] as const))
  t.same(out.endpoints.map((e) => [e.containerId, e.ip]), [[id('b'), '10.240.0.99'], [id('c'), c.ip]])
  t.notOk(out.containers.includes(id('a')), 'destroyed container is gone from containers')
  t.ok(out.containers.includes(id('c')))
  const stopped = applyOverrides(s, new Map([[id('a'), { kind: 'remove', destroyed: false }]] as const))
  t.ok(stopped.containers.includes(id('a')), 'a stopped container still exists')
  t.equal(applyOverrides(s, new Map()), s, 'no overrides: unchanged')
})
