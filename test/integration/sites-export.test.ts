// The endpoint export across a real leaf link (issue 21): registries write
// driftgate_endpoints with CAS, and a nats-server 2.9.10 mirror of it froze a
// key at the last revision it copied once it missed one (nats-server #5865).
// The other site now mirrors driftgate_export_endpoints, which one registry
// keeps equal to the table with plain puts/deletes. Checked here: a mirror
// created after keys were rewritten copies everything, and after a cut during
// which a key was rewritten twice and others deleted, the mirror equals the
// origin's table again within seconds, and later changes keep arriving.
import t from 'tap'
import { connect, type KV, type NatsConnection } from 'nats'
import { startNatsSites, type NatsSites } from '../harness/index.js'
import { freePorts } from '../../src/lab/index.js'
import { createRegistry, resolveRegistryConfig, type DriftgateRegistry } from '../../src/registry/index.js'
import { sitesComponent } from '../../src/registry/components.js'
import { Buckets, EXPORT_ENDPOINTS, KvTable, mirrorState, openBucket } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { ScriptedAgent, endpoint, waitUntil } from './registry-fixtures.js'

interface Site { reg: DriftgateRegistry, nc: NatsConnection }

async function startSite (url: string, site: string, other: string): Promise<Site> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  const [httpPort, dnsPort] = await freePorts(2)
  const reg = createRegistry(resolveRegistryConfig({ httpPort, dnsPort, site, remoteSite: [other], placement: false }),
    { nc, log: silentLogger(), components: [sitesComponent] })
  await reg.start()
  return { reg, nc }
}

/** A bucket's current content as sorted JSON (a watch's initial values). */
async function contents (kv: KV): Promise<string> {
  const table = new KvTable<unknown>({ kv, log: silentLogger(), decode: (v) => v })
  await table.start()
  const out = JSON.stringify([...table.entries].sort(([a], [b]) => (a < b ? -1 : 1)))
  await table.close()
  return out
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

t.test('endpoint export: the other site\'s mirror follows rewrites and deletes, after a cut too', async (t) => {
  const nats: NatsSites = await startNatsSites()
  t.teardown(() => nats.stop())
  const a = await startSite(nats.a.url, 'a', 'b')
  t.teardown(async () => { await a.reg.close(); await a.nc.close() })
  const agent = new ScriptedAgent(a.nc, 'ha1')
  agent.heartbeat()
  const beats = setInterval(() => agent.heartbeat(), 500)
  t.teardown(() => clearInterval(beats))
  const endpointsA = await openBucket(a.nc, Buckets.endpoints)
  const exportA = await a.nc.jetstream().views.kv(EXPORT_ENDPOINTS)

  // Keys rewritten before the other site's mirror exists (a CAS mirror copied nothing for them).
  const eps = [1, 2, 3].map((n) => endpoint('web', n, 10 + n))
  for (const e of eps) await agent.upsert(e)
  await agent.upsert({ ...eps[0], health: 'starting' })
  await agent.upsert({ ...eps[0], health: 'healthy' })
  await waitUntil(async () => (await contents(endpointsA)).includes('"healthy"'), 10_000, 'A has its endpoints')
  await waitUntil(async () => await contents(exportA) === await contents(endpointsA), 10_000, 'A\'s export equals its table')

  const b = await startSite(nats.b.url, 'b', 'a')
  t.teardown(async () => { await b.reg.close(); await b.nc.close() })
  const mirror = await b.nc.jetstream().views.kv('driftgate_remote_a_endpoints')
  const t0 = Date.now()
  await waitUntil(async () => await contents(mirror) === await contents(endpointsA), 15_000, 'a mirror made after the rewrites copies everything')
  t.pass(`mirror created after rewrites equals A's table ${Date.now() - t0} ms after B started`)

  // Lag, put in A (agent event → registry → export) → B's mirror.
  const live = new KvTable<{ containerId?: string }>({ kv: mirror, log: silentLogger(), decode: (v) => v as { containerId?: string } })
  await live.start()
  t.teardown(async () => await live.close())
  const lags: number[] = []
  for (let i = 0; i < 5; i++) {
    const e = endpoint('lag', 50 + i, 50 + i)
    const seen = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a new endpoint did not reach B')), 10_000)
      live.on('change', (c: { value?: { containerId?: string } }) => { if (c.value?.containerId === e.containerId) { clearTimeout(timer); resolve(performance.now()) } })
    })
    const start = performance.now()
    await agent.upsert(e)
    lags.push(Math.round(await seen - start))
  }
  t.comment(`lag agent event in A → B's mirror: median ${median(lags)} ms of ${lags.join(', ')}`)

  // Cut: one key rewritten twice, one deleted (as tombstone GC does), one removed (tombstone).
  nats.link.cut()
  const cutAt = Date.now()
  // Long enough for B to see the link down (siteStaleAfter 3 s): the mirror's consumer is gone by then.
  const jsmB = await b.nc.jetstreamManager()
  await waitUntil(async () => ((await mirrorState(jsmB, 'a', 'endpoints')).activeMs ?? 0) > 3000, 15_000, 'B sees the link down')
  await agent.upsert({ ...eps[0], health: 'unhealthy' })
  await agent.upsert({ ...eps[0], health: 'healthy', weight: 3 })
  const key2 = (JSON.parse(await contents(endpointsA)) as Array<[string, { containerId: string }]>).find(([, v]) => v.containerId === eps[1].containerId)?.[0]
  if (key2 === undefined) throw new Error('web.2 not in A\'s table')
  await endpointsA.delete(key2)
  await agent.remove(eps[2])
  await waitUntil(async () => { const c = await contents(endpointsA); return c.includes('"weight":3') && !c.includes(eps[1].containerId) && c.includes('"removed":true') }, 10_000, 'A applied the changes')
  await waitUntil(async () => await contents(exportA) === await contents(endpointsA), 10_000, 'A\'s export follows while cut')
  t.not(await contents(mirror), await contents(endpointsA), 'B does not see them while cut')

  t.comment(`link cut for ${Date.now() - cutAt} ms`)
  nats.link.restore()
  const back = Date.now()
  await waitUntil(async () => await contents(mirror) === await contents(endpointsA), 20_000, 'B\'s mirror equals A\'s table after the link returns')
  const recovery = Date.now() - back
  t.ok(recovery < 15_000, `B's mirror equals A's table (values and deletes) ${recovery} ms after the link returned`)
  // The stall kept every later revision of a missed key out: one more change must arrive.
  await agent.upsert({ ...eps[0], health: 'unhealthy', weight: 5 })
  await waitUntil(async () => await contents(mirror) === await contents(endpointsA) && (await contents(mirror)).includes('"weight":5'), 10_000, 'a later change of the same key arrives')
  t.pass('a later change of the rewritten key arrives')
})
