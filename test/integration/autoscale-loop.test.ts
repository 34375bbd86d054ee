// The autoscaler's loop against a real nats-server (no Docker: CPU figures
// and request rates are fakes of the CpuSource/ServiceLoad interfaces): the
// requestsPerReplica target scales through the spec store with history and
// an activity event; unschedulable replicas hold; a new leader resumes the
// scale-down window from the status key; a follower does nothing; removing
// autoscale forgets the status.
import t from 'tap'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, waitFor } from '../harness/index.js'
import { ensureBuckets, encodeJson, KvTable, type ActivityEvent } from '../../src/bus/index.js'
import { autoscaleStatusKey, checkServiceRecord, checkServiceSpec, silentLogger, type AutoscaleStatusRecord, type ServiceRecord } from '../../src/core/index.js'
import { Autoscaler, createAutoscaleMetrics, type ServiceLoad } from '../../src/placement/autoscale/index.js'
import { listHistory } from '../../src/placement/history.js'

const log = silentLogger()
const nats = await startNats()
t.teardown(async () => await nats.stop())
const nc = await connect({ servers: nats.url })
t.teardown(async () => await nc.close())
const kv = await ensureBuckets(nc)
const services = new KvTable<ServiceRecord>({ kv: kv.services, log, decode: (v) => (checkServiceRecord.problems(v) === null ? v as ServiceRecord : null) })
await services.start()
t.teardown(async () => await services.close())

const clock = { now: 1_000_000 }
let rps: number | undefined = 900
let unschedulable = 0
let leader = true
const load: ServiceLoad = { rate: () => (rps === undefined ? undefined : { requestsPerSec: rps, errorsPerSec: 0, renderers: 1, at: clock.now }) }
const events: ActivityEvent[] = []
const metrics = createAutoscaleMetrics(new Registry())
const autoscaler = (): Autoscaler => new Autoscaler({
  services, kv: { services: kv.services, leases: kv.leases, history: kv.history }, cpu: { cpu: () => [] }, load, log, metrics,
  isLeader: () => leader, unschedulable: () => unschedulable, intervalMs: 1000, now: () => clock.now,
  publish: (e) => { events.push(e) },
})

async function put (spec: object, version: number): Promise<void> {
  await kv.services.put('api', encodeJson({ v: 1, spec: checkServiceSpec(structuredClone(spec)), version, updatedAt: 1 }))
  await waitFor(() => services.entries.get('api')?.version === version, { timeoutMs: 5000, what: `mirror at version ${version}` })
}
const stored = async (): Promise<ServiceRecord> => (await kv.services.get('api'))!.json<ServiceRecord>()
const status = async (): Promise<AutoscaleStatusRecord | null> => {
  const e = await kv.leases.get(autoscaleStatusKey('api'))
  return e?.operation === 'PUT' ? e.json<AutoscaleStatusRecord>() : null
}
const spec = { name: 'api', image: 'api:1', replicas: 2, port: 80, network: 'mv0', autoscale: { min: 2, max: 10, requestsPerReplica: 100, scaleDownStabilization: '60s' } }

t.test('requestsPerReplica: 900 req/s over 2 → 9, through the spec store with history and an event', async (t) => {
  await put(spec, 1)
  const a = autoscaler()
  t.teardown(async () => await a.close())
  await a.tick()
  const rec = await stored()
  t.equal(rec.spec.replicas, 9)
  t.equal(rec.version, 2)
  const h = await listHistory(kv.history, 'api', rec.version)
  t.equal(h[0].by, 'autoscaler')
  t.match(h[0].reason, /^autoscale 2 → 9: up: requests 450 req\/s per replica \(target 100 req\/s per replica\) wants 9/)
  t.match(events.at(-1), { kind: 'autoscale', service: 'api', message: /^autoscale: api 2 → 9 replicas/ })
  const s = await status()
  t.match(s, { replicas: 2, desired: 9, action: 'up', lastChange: { from: 2, to: 9 } })

  // Unschedulable replicas: more load changes nothing.
  await waitFor(() => services.entries.get('api')?.version === 2, { timeoutMs: 5000, what: 'mirror at version 2' })
  unschedulable = 1; rps = 3000; clock.now += 1000
  await a.tick()
  t.equal((await stored()).spec.replicas, 9, 'held while unschedulable')
  t.match((await status())?.reason, /^hold: 1 replica unschedulable/)
  unschedulable = 0
})

t.test('a follower does nothing; a new leader resumes the scale-down window', async (t) => {
  rps = 0; clock.now += 10_000
  leader = false
  const follower = autoscaler()
  await follower.tick()
  t.equal((await stored()).spec.replicas, 9, 'follower: no write')
  leader = true
  // A fresh instance (another registry taking over) reads the window back: 9 was recommended 11 s ago, window 60 s.
  const next = autoscaler()
  t.teardown(async () => await next.close())
  await next.tick()
  t.equal((await stored()).spec.replicas, 9, 'held by the resumed 60 s window')
  t.match((await status())?.reason, /the scale-down window 1m keeps 9/)
  clock.now += 60_000
  await next.tick()
  t.equal((await stored()).spec.replicas, 2, 'window over: min')
  t.match(events.at(-1)?.message, /^autoscale: api 9 → 2 replicas \(down: /)
})

t.test('missing request figures never scale down; removing autoscale forgets the status', async (t) => {
  await waitFor(() => services.entries.get('api')?.spec.replicas === 2, { timeoutMs: 5000, what: 'mirror at 2 replicas' })
  const v = services.entries.get('api')!.version
  await put({ ...spec, replicas: 5 }, v + 1)
  rps = undefined; clock.now += 120_000
  const a = autoscaler()
  t.teardown(async () => await a.close())
  await a.tick()
  t.equal((await stored()).spec.replicas, 5, 'no figure: no scale-down')
  t.match((await status())?.reason, /^hold: no metrics yet/)
  await put({ ...spec, replicas: 5, autoscale: undefined }, v + 2)
  await a.tick()
  t.equal(await status(), null, 'status key deleted')
})
