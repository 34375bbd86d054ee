// Issue 15 hole 4, agent side: a spec whose network is not MacVLAN on this
// host (a user-defined bridge here; a record written straight into KV
// bypasses the API's name check) starts no replica; the refusal is counted and
// the MacVLAN service next to it still runs. Real dockerd in a testbed.
import t from 'tap'
import Dockerode from 'dockerode'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, Testbed, TEST_IMAGE, waitFor, sleep } from '../harness/index.js'
import { openBucket, Buckets, encodeJson } from '../../src/bus/index.js'
import { checkServiceSpec, silentLogger, specHash, type AssignmentRecord, type ServiceRecord, type ServiceSpec } from '../../src/core/index.js'
import { startReconciler } from '../../src/agent/reconciler/index.js'

t.test('reconciler refuses a replica on a network that is not macvlan', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const tb = await Testbed.create({ hosts: 1, name: 'recnet' })
  t.teardown(() => tb.teardown())
  const host = tb.hosts[0]
  const docker = new Dockerode({ socketPath: host.socketPath })
  await docker.createNetwork({ Name: 'plainbr', Driver: 'bridge', Internal: true })
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  const kv = { services: await openBucket(nc, Buckets.services), assignments: await openBucket(nc, Buckets.assignments) }

  const put = async (spec: ServiceSpec): Promise<void> => {
    const rec: ServiceRecord = { v: 1, spec, version: 1, updatedAt: Date.now() }
    await kv.services.put(spec.name, encodeJson(rec))
    const a: AssignmentRecord = { v: 1, host: 'h1', service: spec.name, replica: 0, specVersion: 1, specHash: specHash(spec), since: Date.now() }
    await kv.assignments.put(`h1.${spec.name}.0`, encodeJson(a))
  }
  const base = { image: TEST_IMAGE, replicas: 1, port: 80 }
  await put(checkServiceSpec({ ...base, name: 'good', network: tb.networkName }))
  await put(checkServiceSpec({ ...base, name: 'bad', network: 'plainbr' }))
  await put(checkServiceSpec({ ...base, name: 'missing', network: 'nosuchnet' }))

  const metrics = new Registry()
  const rec = await startReconciler({
    nc, docker, host: 'h1', log: silentLogger(), metrics,
    timings: { intervalMs: 500, warmupMs: 0, drainTimeoutMs: 1000, readyTimeoutMs: 10_000, rendererSilentMs: 1000 },
  })
  t.teardown(() => rec.close())

  const services = async (): Promise<string[]> => (await docker.listContainers({ all: true, filters: { label: ['driftgate.managed=true'] } }))
    .map((c) => c.Labels['driftgate.service']).sort()
  await waitFor(async () => (await services()).includes('good'), { timeoutMs: 30_000, what: 'the macvlan replica' })
  await sleep(2000) // several passes
  t.same(await services(), ['good'], 'no container for the bridge or missing network')
  const text = await metrics.metrics()
  t.match(text, /driftgate_agent_reconcile_refused_total\{[^}]*reason="network_not_macvlan"[^}]*\} 1\b/, 'bridge refusal counted once')
  t.match(text, /driftgate_agent_reconcile_refused_total\{[^}]*reason="network_missing"[^}]*\} 1\b/, 'missing network counted once')
})
