import t from 'tap'
import Dockerode from 'dockerode'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, Testbed, TEST_IMAGE, waitFor } from '../harness/index.js'
import { openBucket, Buckets, encodeJson } from '../../src/bus/index.js'
import { checkServiceSpec, silentLogger, createLogger, specHash, type AppliedMessage, type AssignmentRecord, type ServiceRecord, type ServiceSpec } from '../../src/core/index.js'
import { startReconciler } from '../../src/agent/reconciler/index.js'

interface Seen { id: string, replica: string, hash: string, running: boolean }

t.test('reconciler on a real dockerd: create, drain before stop, rolling update, remove', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const tb = await Testbed.create({ hosts: 1, name: 'reconciler' })
  t.teardown(() => tb.teardown())
  const host = tb.hosts[0]
  const docker = new Dockerode({ socketPath: host.socketPath })
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  const kv = { services: await openBucket(nc, Buckets.services), assignments: await openBucket(nc, Buckets.assignments) }
  const hostId = 'h1'

  const list = async (): Promise<Seen[]> => (await docker.listContainers({ all: true, filters: { label: ['driftgate.managed=true'] } }))
    .map((c) => ({ id: c.Id, replica: c.Labels['driftgate.replica'], hash: c.Labels['driftgate.spec'], running: c.State === 'running' }))

  // A fake renderer: routes every running managed container not marked draining, re-announcing every 300 ms.
  const draining = new Set<string>()
  const removedFromNginxAt = new Map<string, number>()
  let generation = 0
  const renderer = setInterval(() => {
    void list().then((cs) => {
      const routed = cs.filter((c) => c.running && !draining.has(c.id)).map((c) => c.id).sort()
      for (const id of draining) if (!routed.includes(id) && !removedFromNginxAt.has(id)) removedFromNginxAt.set(id, Date.now())
      const msg: AppliedMessage = { v: 1, renderer: 'r1', generation: ++generation, endpointsRevision: 0, containers: routed, appliedAt: Date.now() }
      nc.publish('driftgate.applied.r1', encodeJson(msg))
    }).catch(() => {})
  }, 300)
  t.teardown(() => clearInterval(renderer))

  const spec = checkServiceSpec({
    name: 'web', image: TEST_IMAGE, replicas: 2, port: 80, network: tb.networkName,
    resources: { cpu: 0.2, memory: '64Mi' }, health: { http: '/healthz', interval: '1s' }, stopGracePeriod: '2s', env: { V: '1' },
  })
  let version = 0
  const putSpec = async (s: ServiceSpec): Promise<string> => {
    const rec: ServiceRecord = { v: 1, spec: s, version: ++version, updatedAt: Date.now() }
    await kv.services.put('web', encodeJson(rec))
    return specHash(s)
  }
  const assign = async (replica: number, hash: string): Promise<void> => {
    const rec: AssignmentRecord = { v: 1, host: hostId, service: 'web', replica, specVersion: version, specHash: hash, since: Date.now() }
    await kv.assignments.put(`${hostId}.web.${replica}`, encodeJson(rec))
  }

  const rec = await startReconciler({
    nc, docker, host: hostId, log: process.env.DEBUG_RC ? createLogger({ level: 'debug' }) : silentLogger(), metrics: new Registry(),
    publisher: { markDraining: (id) => { draining.add(id) } },
    timings: { intervalMs: 1000, warmupMs: 500, drainTimeoutMs: 8000, readyTimeoutMs: 30_000, rendererSilentMs: 3000 },
  })
  t.teardown(() => rec.close())

  const h1 = await putSpec(spec)
  await assign(0, h1)
  await assign(1, h1)
  await waitFor(async () => (await list()).filter((c) => c.running).length === 2, { timeoutMs: 30_000, what: '2 replicas running' })
  const cs = await list()
  t.same(cs.map((c) => c.replica).sort(), ['0', '1'], 'one container per replica')
  const inspect = await docker.getContainer(cs[0].id).inspect()
  t.equal(inspect.Config.Labels['driftgate.service'], 'web')
  t.equal(inspect.Config.Labels['driftgate.port'], '80')
  t.equal(inspect.Config.Labels['driftgate.spec'], h1)
  t.equal(inspect.HostConfig.Memory, 64 * 1024 * 1024, 'memory limit')
  t.equal(inspect.HostConfig.NanoCpus, 2e8, 'cpu limit')
  t.ok(inspect.Config.Env.includes('V=1'), 'env')
  t.ok(Object.keys(inspect.NetworkSettings.Networks).includes(tb.networkName), 'on the spec network')
  // An HTTP check is the agent's own (issue 19): labels, no wget inside the container.
  t.equal(inspect.Config.Healthcheck, undefined, 'no Docker healthcheck for an HTTP check')
  t.equal(inspect.Config.Labels['driftgate.health.http'], '/healthz')
  t.equal(inspect.Config.Labels['driftgate.health.interval'], '1000ms')

  // Scale down: replica 1 is drained (out of every renderer) before it is stopped.
  const victim = cs.find((c) => c.replica === '1')!.id
  await kv.assignments.delete(`${hostId}.web.1`)
  let stoppedAt = 0
  await waitFor(async () => {
    const gone = !(await list()).some((c) => c.id === victim && c.running)
    if (gone && stoppedAt === 0) stoppedAt = Date.now()
    return gone
  }, { timeoutMs: 30_000, intervalMs: 50, what: 'replica 1 stopped' })
  t.ok(draining.has(victim), 'marked draining first')
  t.ok(removedFromNginxAt.has(victim), 'the renderer dropped it')
  t.ok(removedFromNginxAt.get(victim)! <= stoppedAt, `stopped ${stoppedAt - removedFromNginxAt.get(victim)!} ms after the renderer dropped it`)
  await waitFor(async () => !(await list()).some((c) => c.id === victim), { timeoutMs: 10_000, what: 'replica 1 removed' })

  // Rolling update: a new container for replica 0 runs healthy before the old one is drained and stopped.
  const old = (await list()).find((c) => c.replica === '0')!.id
  const h2 = await putSpec({ ...spec, env: { V: '2' } })
  let neverNone = true
  const sampler = setInterval(() => {
    void list().then((l) => { if (!l.some((c) => c.running && !draining.has(c.id))) neverNone = false }).catch(() => {})
  }, 100)
  await assign(0, h2)
  await waitFor(async () => {
    const l = await list()
    return l.length === 1 && l[0].hash === h2 && l[0].running
  }, { timeoutMs: 60_000, what: 'replica 0 replaced' })
  clearInterval(sampler)
  t.ok(neverNone, 'a routed replica existed at every moment of the update')
  t.ok(draining.has(old), 'the old container was drained')

  // Everything unassigned: all gone.
  await kv.assignments.delete(`${hostId}.web.0`)
  await waitFor(async () => (await list()).length === 0, { timeoutMs: 30_000, what: 'all removed' })
  t.pass('unassigned replicas are removed')
})
