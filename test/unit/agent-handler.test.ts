// Event handling with a fake Docker and a fake JetStream: ordering, no
// duplicates, draining, removals of vanished containers, rejections.
import t from 'tap'
import { Registry } from 'prom-client'
import type Dockerode from 'dockerode'
import type { JetStreamClient, NatsConnection } from 'nats'
import { EventHandler } from '../../src/agent/docker/handler.js'
import { Publisher } from '../../src/agent/publisher.js'
import { createAgentMetrics } from '../../src/agent/metrics.js'
import { MacvlanNetworks } from '../../src/agent/docker/networks.js'
import { Reservations } from '../../src/agent/docker/reservations.js'
import type { ContainerInspect } from '../../src/agent/docker/endpoint.js'
import type { DockerEvent } from '../../src/agent/docker/events.js'
import { buildSnapshot } from '../../src/agent/docker/snapshot.js'
import { checkEvent, silentLogger, type EventMessage } from '../../src/core/index.js'
import { subjects } from '../../src/bus/index.js'

const MV = 'f'.repeat(64)
const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

function setup () {
  const containers = new Map<string, ContainerInspect>()
  const delays = new Map<string, number>()
  let inspects = 0
  const docker = {
    getContainer: (id: string) => ({
      inspect: async () => {
        inspects++
        await sleep(delays.get(id) ?? 0)
        const c = containers.get(id)
        if (c == null) throw Object.assign(new Error('no such container'), { statusCode: 404 })
        return structuredClone(c)
      },
    }),
    getNetwork: (_id: string) => ({ inspect: async () => ({ Driver: 'macvlan' }) }),
    listNetworks: async () => [{ Id: MV, Driver: 'macvlan' }],
  } as unknown as Dockerode
  const sent: EventMessage[] = []
  const js = {
    publish: async (_s: string, data: Uint8Array) => { sent.push(JSON.parse(new TextDecoder().decode(data)) as EventMessage); return {} },
  } as unknown as JetStreamClient
  const metrics = createAgentMetrics(new Registry())
  const log = silentLogger()
  const troubles: string[] = []
  const publisher = new Publisher({
    nc: {} as NatsConnection, js, subjects: subjects(), host: 'h1', instance: '000000001-abcdef', metrics, log,
    onFailure: () => {}, now: () => Date.now(),
  })
  const handler = new EventHandler({
    docker, networks: new MacvlanNetworks(docker, log), publisher, reservations: new Reservations(docker), metrics, log,
    onTrouble: (w) => troubles.push(w),
  })
  const run = (id: string, over: { labels?: Record<string, string>, ip?: string, running?: boolean, nets?: boolean } = {}): void => {
    containers.set(id, {
      Id: id, Name: '/c',
      Config: { Labels: over.labels ?? { 'driftgate.service': 'web' } },
      State: { Running: over.running ?? true },
      NetworkSettings: { Networks: over.nets === false ? {} : { mv0: { NetworkID: MV, IPAddress: over.ip ?? '10.240.0.5', MacAddress: '02:00:00:00:00:05' } } },
    })
  }
  const ev = (id: string, action: string, attrs: Record<string, string> = { 'driftgate.service': 'web' }, type = 'container'): void => {
    const e: DockerEvent = type === 'network'
      ? { Type: 'network', Action: action, Actor: { ID: MV, Attributes: { container: id, name: 'mv0', type: 'macvlan' } }, timeNano: Date.now() * 1e6 }
      : { Type: type, Action: action, Actor: { ID: id, Attributes: attrs }, timeNano: Date.now() * 1e6 }
    handler.onEvent(e, Date.now())
  }
  const idle = async (): Promise<void> => { await sleep(30); await handler.close(500); }
  return { containers, delays, sent, metrics, handler, run, ev, idle, troubles, inspects: () => inspects }
}

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)

t.test('start → one upsert; repeats and network connect give no duplicate', async (t) => {
  const s = setup()
  s.run(A)
  s.ev(A, 'connect', {}, 'network')
  s.ev(A, 'start')
  s.ev(A, 'health_status: healthy')
  await s.idle()
  t.equal(s.sent.length, 1)
  t.match(s.sent[0], { kind: 'upsert', host: 'h1', seq: 1, cause: 'start', endpoint: { containerId: A, ip: '10.240.0.5', state: 'running' } })
  for (const m of s.sent) checkEvent(m)
})

t.test('network connect before the container runs publishes nothing', async (t) => {
  const s = setup()
  s.run(A, { running: false })
  s.ev(A, 'connect', {}, 'network')
  await sleep(20)
  s.run(A)
  s.ev(A, 'start')
  await s.idle()
  t.same(s.sent.map((m) => [m.kind, m.cause]), [['upsert', 'start']])
})

t.test('kill (TERM) → draining, die → remove, destroy → nothing more', async (t) => {
  const s = setup()
  s.run(A)
  s.ev(A, 'start')
  s.ev(A, 'kill', { 'driftgate.service': 'web', signal: '15' })
  await sleep(20)
  s.containers.get(A)!.State = { Running: false }
  s.ev(A, 'die')
  s.ev(A, 'stop')
  s.containers.delete(A)
  s.ev(A, 'destroy')
  await s.idle()
  t.same(s.sent.map((m) => [m.kind, m.cause, (m.endpoint as { state?: string }).state]), [
    ['upsert', 'start', 'running'], ['upsert', 'kill', 'draining'], ['remove', 'die', undefined],
  ])
  t.same(s.sent.map((m) => m.seq), [1, 2, 3], 'seq strictly increasing')
  for (const m of s.sent) checkEvent(m)
})

t.test('kill -s HUP is not a stop', async (t) => {
  const s = setup()
  s.run(A)
  s.ev(A, 'start')
  s.ev(A, 'kill', { 'driftgate.service': 'web', signal: '1' })
  await s.idle()
  t.equal(s.sent.length, 1)
})

t.test('events of one container keep Docker\'s order even when an inspect is slow', async (t) => {
  const s = setup()
  s.run(A)
  s.run(B, { ip: '10.240.0.6' })
  s.delays.set(A, 60)
  s.ev(A, 'start')
  s.ev(B, 'start')
  s.ev(A, 'die')
  await sleep(120)
  await s.idle()
  t.same(s.sent.map((m) => [m.endpoint.containerId[0], m.kind]), [['b', 'upsert'], ['a', 'upsert'], ['a', 'remove']],
    'B is not held up by A; A\'s die follows A\'s start')
})

t.test('a container gone before inspection is removed with the service from the event', async (t) => {
  const s = setup()
  s.run(A)
  s.ev(A, 'start')
  await sleep(20)
  s.containers.delete(A)
  s.ev(A, 'pause')
  s.ev(A, 'destroy')
  await s.idle()
  t.same(s.sent.map((m) => m.kind), ['upsert', 'remove'])
  t.same(s.sent[1].endpoint, { service: 'web', containerId: A })
})

t.test('unlabelled containers cost no inspect and publish nothing', async (t) => {
  const s = setup()
  s.run(A, { labels: {} })
  s.ev(A, 'start', { image: 'x' })
  s.ev(A, 'die', { image: 'x' })
  s.ev(A, 'destroy', { image: 'x' })
  await s.idle()
  t.equal(s.sent.length, 0)
  t.equal(s.inspects(), 0)
})

t.test('a hostile service label is counted once and never published', async (t) => {
  const s = setup()
  const bad = { 'driftgate.service': 'x;}server{listen 1' }
  s.run(A, { labels: bad })
  s.ev(A, 'start', bad)
  s.ev(A, 'die', bad)
  s.ev(A, 'start', bad)
  await s.idle()
  t.equal(s.sent.length, 0)
  const m = await s.metrics.rejected.get()
  t.same(m.values.map((v) => [v.labels.reason, v.value]), [['invalid_service', 1]])
})

t.test('a bad port is rejected with its reason', async (t) => {
  const s = setup()
  const labels = { 'driftgate.service': 'web', 'driftgate.port': '70000' }
  s.run(A, { labels })
  s.ev(A, 'start', labels)
  await s.idle()
  t.equal(s.sent.length, 0)
  t.same((await s.metrics.rejected.get()).values.map((v) => v.labels.reason), ['invalid_port'])
})

t.test('network disconnect → remove, connect with a new IP → upsert', async (t) => {
  const s = setup()
  s.run(A)
  s.ev(A, 'start')
  await sleep(20)
  s.run(A, { nets: false })
  s.ev(A, 'disconnect', {}, 'network')
  await sleep(20)
  s.run(A, { ip: '10.240.0.77' })
  s.ev(A, 'connect', {}, 'network')
  await s.idle()
  t.same(s.sent.map((m) => [m.kind, m.cause, (m.endpoint as { ip?: string }).ip]), [
    ['upsert', 'start', '10.240.0.5'], ['remove', 'disconnect', undefined], ['upsert', 'connect', '10.240.0.77'],
  ])
})

t.test('what events decide while a snapshot is listed is recorded', async (t) => {
  const s = setup()
  s.run(A)
  s.handler.startRecording()
  s.ev(A, 'start')
  s.ev(B, 'destroy')
  await sleep(30)
  const rec = s.handler.stopRecording()
  t.match(rec.get(A), { kind: 'upsert', endpoint: { containerId: A } })
  t.match(rec.get(B), { kind: 'remove', destroyed: true })
  t.equal(s.handler.stopRecording().size, 0, 'recording stopped')
  await s.idle()
})

// markDraining: what the reconciler calls before a planned stop.
const state = (m: EventMessage): string | undefined => (m.endpoint as { state?: string }).state

t.test('markDraining → a draining upsert after the earlier events; health keeps it draining; die removes it', async (t) => {
  const s = setup()
  s.run(A)
  s.ev(A, 'start')
  await s.handler.markDraining(A, 'web')
  t.same(s.sent.map((m) => [m.kind, m.cause, state(m)]), [['upsert', 'start', 'running'], ['upsert', 'drain', 'draining']],
    'resolves once the draining upsert is out, after the start')
  t.ok(s.handler.draining.has(A))
  await s.handler.markDraining(A, 'web')
  t.equal(s.sent.length, 2, 'a repeated mark publishes nothing new')
  s.ev(A, 'health_status: healthy')
  s.containers.get(A)!.State = { Running: true, Health: { Status: 'healthy' } }
  s.ev(A, 'health_status: healthy')
  await sleep(30)
  t.equal(state(s.sent.at(-1)!), 'draining', 'an inspect after the mark still says draining')
  s.containers.get(A)!.State = { Running: false }
  s.ev(A, 'die')
  s.containers.delete(A)
  s.ev(A, 'destroy')
  await s.idle()
  t.same(s.sent.slice(-1).map((m) => [m.kind, m.cause]), [['remove', 'die']])
  t.notOk(s.handler.draining.has(A), 'forgotten after die')
  t.same(s.sent.map((m) => m.seq), s.sent.map((_, i) => i + 1), 'one sequence for events and drains')
  for (const m of s.sent) checkEvent(m)
})

t.test('markDraining of a container not announced yet inspects it', async (t) => {
  const s = setup()
  s.run(A)
  await s.handler.markDraining(A, 'web')
  t.same(s.sent.map((m) => [m.kind, m.cause, state(m)]), [['upsert', 'drain', 'draining']])
  await s.idle()
})

t.test('markDraining after the container died publishes nothing', async (t) => {
  const s = setup()
  s.run(A)
  s.ev(A, 'start')
  await sleep(20)
  s.containers.get(A)!.State = { Running: false }
  s.ev(A, 'die')
  const p = s.handler.markDraining(A, 'web') // queued behind the die, which clears the mark
  s.ev(A, 'die')
  await p
  await s.idle()
  t.same(s.sent.map((m) => [m.kind, m.cause]), [['upsert', 'start'], ['remove', 'die']])
})

t.test('markDraining with bad input, or of an unlabelled container, changes nothing', async (t) => {
  const s = setup()
  s.run(A, { labels: {} })
  s.ev(A, 'start', {})
  await s.handler.markDraining(A, 'web')
  await s.handler.markDraining('nope', 'web')
  await s.handler.markDraining(B, 'x;}server{')
  await s.idle()
  t.same(s.sent, [])
  t.notOk(s.handler.draining.has(B))
  t.notOk(s.handler.draining.has('nope'))
})

t.test('a snapshot taken while draining keeps the endpoint draining', async (t) => {
  const s = setup()
  s.run(A)
  s.run(B, { ip: '10.240.0.6' })
  s.ev(A, 'start')
  s.ev(B, 'start')
  await s.handler.markDraining(A, 'web')
  const listed = [A, B].map((id) => ({
    Id: id, Names: ['/c'], Labels: { 'driftgate.service': 'web' }, State: 'running', Status: 'Up 1 second',
    NetworkSettings: { Networks: { mv0: { NetworkID: MV, IPAddress: s.containers.get(id)!.NetworkSettings!.Networks!.mv0.IPAddress, MacAddress: '02:00:00:00:00:05' } } },
  }))
  const body = buildSnapshot(listed, { macvlan: new Set([MV]) }, s.handler.draining)
  t.same(body.endpoints.map((e) => [e.containerId, e.state]), [[A, 'draining'], [B, 'running']])
  s.handler.adoptSnapshot(body)
  await s.handler.markDraining(A, 'web')
  await s.idle()
  t.equal(s.sent.filter((m) => state(m) === 'draining').length, 1, 'adopting the snapshot announces nothing twice')
})
