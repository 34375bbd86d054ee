// 200 labelled containers started at once on one host: 200 upserts with
// distinct, correct IPs, none lost, none duplicated.
import t from 'tap'
import PQueue from 'p-queue'
import { waitFor, TEST_IMAGE } from '../harness/index.js'
import { checkEvent } from '../../src/core/index.js'
import { setupFixture, NET, type Fixture } from './agent-fixtures.js'

const N = Number(process.env.AGENT_SCALE_N ?? 200)
const fx: Fixture = await setupFixture()
t.teardown(() => fx.teardown())
fx.agent = await fx.startAgent()

t.test(`${N} containers started at once`, async (t) => {
  const q = new PQueue({ concurrency: 16 })
  const containers = await Promise.all(Array.from({ length: N }, (_, i) => q.add(async () =>
    await fx.docker.createContainer({
      Image: TEST_IMAGE,
      name: `scale-${i}`,
      Labels: { 'driftgate.service': `svc-${i % 7}`, 'driftgate.port': '80' },
      HostConfig: { NetworkMode: NET },
    }))))
  const t0 = Date.now()
  // All starts in flight together: Docker emits their events interleaved.
  await Promise.all(containers.map(async (c) => { await c!.start() }))
  t.comment(`docker started ${N} containers in ${Date.now() - t0} ms`)
  const ids = new Set(containers.map((c) => c!.id))
  const upserts = (): any[] => fx.rec.events().map((m) => m.value).filter((v) => v.kind === 'upsert' && ids.has(v.endpoint.containerId))
  // What is checked is that none is lost: the bound only ends a stuck run. On the 2-core build
  // machine dockerd took 57-67 s for the starts and once left upserts more than 60 s behind them.
  await waitFor(() => new Set(upserts().map((v) => v.endpoint.containerId)).size === N, { timeoutMs: 120_000, intervalMs: 200, what: `${N} upserts` })
  t.comment(`last upsert ${Date.now() - t0} ms after the first start call`)
  const got = upserts()
  t.equal(got.length, N, 'exactly one upsert per container: none duplicated')
  const ips = new Set(got.map((v) => v.endpoint.ip))
  t.equal(ips.size, N, 'distinct IPs')
  // Compare with Docker's own view, a few at a time.
  const iq = new PQueue({ concurrency: 16 })
  let wrong = 0
  await Promise.all(got.map((v) => iq.add(async () => {
    checkEvent(v)
    const info = await fx.docker.getContainer(v.endpoint.containerId).inspect()
    const net = info.NetworkSettings.Networks[NET]
    if (net.IPAddress !== v.endpoint.ip || net.MacAddress.toLowerCase() !== v.endpoint.mac || info.Config.Labels['driftgate.service'] !== v.endpoint.service) wrong++
  })))
  t.equal(wrong, 0, 'every IP, MAC and service matches docker inspect')
  const seqs = got.map((v) => v.seq)
  t.equal(new Set(seqs).size, seqs.length, 'distinct seq')
  const snapAt = Date.now()
  await fx.agent.snapshotNow()
  const snap = await fx.rec.waitSnapshot(snapAt - 1)
  t.equal(snap.value.endpoints.filter((e: any) => ids.has(e.containerId)).length, N, 'snapshot holds all of them')
})
