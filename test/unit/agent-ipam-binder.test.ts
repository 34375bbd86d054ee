// The agent's IPAM binder with a fake Docker and a fake bindByMac: which
// addresses it binds (only our driver's networks), once per container and IP,
// retries after transient failures only, counts failures.
import t from 'tap'
import { Registry } from 'prom-client'
import type Dockerode from 'dockerode'
import { IpamBinder, type BindRequest } from '../../src/agent/ipam/binder.js'
import { MacvlanNetworks } from '../../src/agent/docker/networks.js'
import { createAgentMetrics } from '../../src/agent/metrics.js'
import type { ContainerInspect } from '../../src/agent/docker/endpoint.js'
import { DriftgateError, ErrorCodes, silentLogger } from '../../src/core/index.js'

const OURS = '1'.repeat(64)
const OTHER = '2'.repeat(64)
const A = 'a'.repeat(64)
const B = 'b'.repeat(64)

function setup (fail: (req: BindRequest, n: number) => Error | undefined = () => undefined) {
  const containers = new Map<string, ContainerInspect>()
  let netInspects = 0
  let inspects = 0
  const docker = {
    getContainer: (id: string) => ({
      inspect: async () => {
        inspects++
        const c = containers.get(id)
        if (c == null) throw Object.assign(new Error('no such container'), { statusCode: 404 })
        return structuredClone(c)
      },
    }),
    getNetwork: (id: string) => ({
      inspect: async () => { netInspects++; return { Id: id, Driver: 'macvlan', IPAM: { Driver: id === OURS ? 'dg-h1' : 'default' } } },
    }),
  } as unknown as Dockerode
  const registry = new Registry()
  const metrics = createAgentMetrics(registry)
  const calls: BindRequest[] = []
  const running = new Set<string>()
  const binder = new IpamBinder({
    docker, networks: new MacvlanNetworks(docker, silentLogger()), driverName: 'dg-h1', host: 'h1', log: silentLogger(),
    failed: metrics.ipamBindFailed,
    bind: async (req) => { calls.push(req); const e = fail(req, calls.length); if (e !== undefined) throw e; return { ok: true } },
    isRunning: (id) => running.has(id),
  })
  const run = (id: string, nets: Record<string, { NetworkID: string, IPAddress: string, MacAddress: string }>, labels: Record<string, string> = {}): ContainerInspect => {
    const c = { Id: id, Config: { Labels: labels }, State: { Running: true }, NetworkSettings: { Networks: nets } }
    containers.set(id, c)
    running.add(id)
    return c
  }
  const failures = async (): Promise<number> => (await registry.getSingleMetricAsString('driftgate_agent_ipam_bind_failed_total'))
    .split('\n').filter((l) => l.startsWith('driftgate_agent_ipam_bind_failed_total{')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)
  return { binder, calls, run, failures, netInspects: () => netInspects, inspects: () => inspects }
}

const net = (id: string, ip: string, mac = '02:00:00:00:00:01'): { NetworkID: string, IPAddress: string, MacAddress: string } =>
  ({ NetworkID: id, IPAddress: ip, MacAddress: mac })

t.test('binds only addresses of networks using our driver, once per container and IP', async (t) => {
  const s = setup()
  const c = s.run(A, { mv0: net(OURS, '10.240.9.70', '02:00:00:00:00:AA'), other: net(OTHER, '10.240.8.5') })
  s.binder.fromInspect(c)
  s.binder.fromInspect(c)
  s.binder.fromList([{ Id: A, State: 'running', NetworkSettings: c.NetworkSettings }])
  await s.binder.idle()
  t.same(s.calls, [{ host: 'h1', mac: '02:00:00:00:00:aa', ip: '10.240.9.70', containerId: A }], 'one bind, MAC lower-cased')
  t.equal(s.netInspects(), 2, 'each network inspected once')
  s.binder.fromInspect({ ...c, State: { Running: false } })
  s.binder.fromList([{ Id: B, State: 'exited', NetworkSettings: c.NetworkSettings }])
  await s.binder.idle()
  t.equal(s.calls.length, 1, 'stopped containers are not bound')
})

t.test('a transient failure is retried at the next sighting; a refusal is counted, not retried', async (t) => {
  const s = setup((req, n) => {
    if (req.containerId === A && n === 1) return new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, 'driftgate registry unreachable')
    if (req.containerId === B) return new DriftgateError(ErrorCodes.IPAM_NOT_OWNER, 'bound to someone else')
    return undefined
  })
  const a = s.run(A, { mv0: net(OURS, '10.240.9.70') })
  const b = s.run(B, { mv0: net(OURS, '10.240.9.71', '02:00:00:00:00:02') })
  s.binder.fromInspect(a)
  s.binder.fromInspect(b)
  await s.binder.idle()
  t.equal(await s.failures(), 2, 'both failures counted')
  s.binder.fromInspect(a)
  s.binder.fromInspect(b)
  await s.binder.idle()
  t.same(s.calls.map((c) => c.containerId), [A, B, A], 'A retried, B not')
})

t.test('events: unlabelled starts are inspected here, labelled ones are left to the handler; die forgets', async (t) => {
  const s = setup()
  s.run(A, { mv0: net(OURS, '10.240.9.70') })
  s.run(B, { mv0: net(OURS, '10.240.9.71') }, { 'driftgate.service': 'web' })
  s.binder.onEvent({ Type: 'container', Action: 'start', Actor: { ID: A, Attributes: {} } })
  s.binder.onEvent({ Type: 'container', Action: 'start', Actor: { ID: B, Attributes: { 'driftgate.service': 'web' } } })
  await s.binder.idle()
  t.same(s.calls.map((c) => c.containerId), [A])
  t.equal(s.inspects(), 1, 'no inspect for the labelled one')
  s.binder.onEvent({ Type: 'container', Action: 'die', Actor: { ID: A, Attributes: {} } })
  s.binder.onEvent({ Type: 'container', Action: 'start', Actor: { ID: A, Attributes: {} } })
  await s.binder.idle()
  t.equal(s.calls.length, 2, 'a restart binds again')
  // An address can come without a restart: connect of a running container to our network.
  s.run(B, { mv0: net(OURS, '10.240.9.71'), x: net(OURS, '10.240.9.99') }, { 'driftgate.service': 'web' })
  s.binder.onEvent({ Type: 'network', Action: 'connect', Actor: { ID: OURS, Attributes: { container: B } } })
  s.binder.onEvent({ Type: 'network', Action: 'connect', Actor: { ID: OTHER, Attributes: { container: B } } })
  s.binder.onEvent({ Type: 'network', Action: 'connect', Actor: { ID: OURS, Attributes: { container: 'c'.repeat(64) } } })
  await s.binder.idle()
  t.same(s.calls.slice(2).map((c) => c.ip).sort(), ['10.240.9.71', '10.240.9.99'])
})

t.test('after close nothing more is bound', async (t) => {
  const s = setup()
  const c = s.run(A, { mv0: net(OURS, '10.240.9.70') })
  await s.binder.close()
  s.binder.fromInspect(c)
  s.binder.onEvent({ Type: 'container', Action: 'start', Actor: { ID: A, Attributes: {} } })
  await s.binder.idle()
  t.same(s.calls, [])
})
