// Two sites joined by a leaf-node link (issue 21): real nats-servers, each its
// own JetStream domain; one registry per site, in-process, with the sites and
// lookup components. Remote tables are read-only copies JetStream mirrors;
// a cut link keeps everything (local and remote), marks the remote stale,
// and catches up when it returns. Lookups answer local endpoints first and
// the failover site's only while the local set is empty.
import t from 'tap'
import { connect, type NatsConnection } from 'nats'
import { startNatsSites, type NatsSites } from '../harness/index.js'
import { freePorts } from '../../src/lab/index.js'
import { createRegistry, resolveRegistryConfig, type DriftgateRegistry } from '../../src/registry/index.js'
import { lookupComponent, sitesComponent } from '../../src/registry/components.js'
import { Buckets, encodeJson, openBucket } from '../../src/bus/index.js'
import { silentLogger, type ServiceRecord } from '../../src/core/index.js'
import { ScriptedAgent, endpoint, waitUntil } from './registry-fixtures.js'
import { dig } from './lookup-setup.js'

interface Site { reg: DriftgateRegistry, nc: NatsConnection, agent: ScriptedAgent, api: string, dnsPort: number }

async function startSite (url: string, site: string, other: string, host: string): Promise<Site> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  const [httpPort, dnsPort] = await freePorts(2)
  const reg = createRegistry(resolveRegistryConfig({ httpPort, dnsPort, site, remoteSite: [other], placement: false }),
    { nc, log: silentLogger(), components: [sitesComponent, lookupComponent] })
  await reg.start()
  return { reg, nc, agent: new ScriptedAgent(nc, host), api: `http://127.0.0.1:${httpPort}`, dnsPort }
}

const get = async <T>(url: string): Promise<T> => { const r = await fetch(url); if (!r.ok) throw new Error(`${url}: ${r.status}`); return await r.json() as T }
interface Eps { endpoints: Array<{ ip: string, site?: string, stale?: boolean }> }
interface Sites { site: string, remote: Array<{ site: string, link: string, stale: boolean, endpoints: number, hosts: { up: number }, summaryAgeMs: number | null }>, failedOver: Array<{ service: string, site: string }> }

const spec = (name: string, failover?: ServiceRecord['spec']['failover']): ServiceRecord => ({
  v: 1, version: 1, updatedAt: Date.now(),
  spec: { name, image: 'x', replicas: 1, port: 80, network: 'mv0', resources: {}, env: {}, upstream: {}, placement: { spread: 'host' }, ...(failover !== undefined ? { failover } : {}) },
})

t.test('two sites: remote tables read-only, link cut fail-static, lookups prefer local', async (t) => {
  const nats: NatsSites = await startNatsSites()
  t.teardown(() => nats.stop())
  const a = await startSite(nats.a.url, 'a', 'b', 'ha1')
  const b = await startSite(nats.b.url, 'b', 'a', 'hb1')
  t.teardown(async () => { for (const s of [a, b]) { await s.reg.close(); await s.nc.close() } })

  const webA = [endpoint('web', 1, 11), endpoint('web', 2, 12)]
  const webB = [endpoint('web', 101, 111)]
  // Agents beat every 500 ms, each beat a CAS rewrite of the host record: a
  // mirror of the host table stalled on that (docs/architecture.md "Sites");
  // the other site's liveness now comes from the registries' summaries.
  a.agent.heartbeat(); b.agent.heartbeat()
  const beats = setInterval(() => { a.agent.heartbeat(); b.agent.heartbeat() }, 500)
  t.teardown(() => clearInterval(beats))
  await a.agent.snapshot(webA)
  await b.agent.snapshot(webB)
  await (await openBucket(a.nc, Buckets.services)).put('web', encodeJson(spec('web', { sites: ['b'], mode: 'backup' })))

  // B sees A's endpoints and hosts, read-only, with their site.
  const t0 = Date.now()
  await waitUntil(async () => (await get<Sites>(`${b.api}/v1/sites`)).remote[0]?.endpoints === 2, 15_000, 'B sees A\'s endpoints')
  t.comment(`A's endpoints visible in B after ${Date.now() - t0} ms (registries just started)`)
  await waitUntil(async () => (await get<Sites>(`${b.api}/v1/sites`)).remote[0]?.link === 'up', 10_000, 'B sees the link up')
  const sb = await get<Sites>(`${b.api}/v1/sites`)
  t.equal(sb.site, 'b')
  t.match(sb.remote[0], { site: 'a', link: 'up', stale: false, endpoints: 2 })
  await waitUntil(async () => (await get<Sites>(`${b.api}/v1/sites`)).remote[0]?.hosts.up === 1, 10_000, 'B sees A\'s host up')
  // Under steady heartbeats each site keeps hearing the other's summary (about
  // every second; null until one arrives after the registry started).
  for (const api of [a.api, b.api]) await waitUntil(async () => (await get<Sites>(`${api}/v1/sites`)).remote[0]?.summaryAgeMs != null, 10_000, 'a summary arrives')
  const ages: number[] = []
  for (let i = 0; i < 6; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    for (const api of [a.api, b.api]) ages.push((await get<Sites>(`${api}/v1/sites`)).remote[0].summaryAgeMs ?? Infinity)
  }
  t.ok(Math.max(...ages) < 2500, `summaries keep arriving under 500 ms heartbeats (oldest seen ${Math.max(...ages)} ms)`)
  const mirror = await b.nc.jetstream().views.kv('driftgate_remote_a_endpoints')
  await t.rejects(mirror.put('web.x', encodeJson({})), 'a mirror refuses writes: remote tables are read-only')

  // Lookups in A prefer local endpoints.
  let eps = await get<Eps>(`${a.api}/v1/services/web/endpoints`)
  t.same(eps.endpoints.map((e) => e.ip).sort(), ['10.240.0.11', '10.240.0.12'], 'A answers its own endpoints')
  t.notOk(eps.endpoints.some((e) => e.site !== undefined), 'local endpoints carry no site')

  await waitUntil(async () => (await get<Sites>(`${a.api}/v1/sites`)).remote[0]?.link === 'up', 10_000, 'A sees the link up')
  // A's local set empties: lookups answer B's endpoints, with their site (HTTP and DNS).
  await a.agent.snapshot([])
  await waitUntil(async () => (await get<Eps>(`${a.api}/v1/services/web/endpoints`)).endpoints[0]?.site === 'b', 10_000, 'A fails over to B')
  await waitUntil(async () => (await get<Eps>(`${a.api}/v1/services/web/endpoints`)).endpoints.length === 1, 10_000, 'only B\'s endpoint')
  eps = await get<Eps>(`${a.api}/v1/services/web/endpoints`)
  t.same(eps.endpoints.map((e) => [e.ip, e.site, e.stale]), [['10.240.0.111', 'b', false]], 'B\'s endpoint, with its site')
  t.same(await dig(a.dnsPort, ['web.service.driftgate', 'A', '+short']), ['10.240.0.111'], 'DNS answers the failover site too')
  t.same((await get<Sites>(`${a.api}/v1/sites`)).failedOver, [{ service: 'web', site: 'b' }], 'status says web is failed over')
  // a service without failover never answers another site's endpoints
  await b.agent.upsert(endpoint('api', 200, 200))
  await (await openBucket(a.nc, Buckets.services)).put('api', encodeJson(spec('api')))
  await waitUntil(async () => (await get<Sites>(`${a.api}/v1/sites`)).remote[0]?.endpoints === 2, 10_000, 'A sees B\'s api')
  t.same((await get<Eps>(`${a.api}/v1/services/api/endpoints`)).endpoints, [], 'no failover spec: no remote answer')

  // Cut the link: nothing local removed on either side, remote marked stale.
  nats.link.cut()
  const cutAt = Date.now()
  await waitUntil(async () => (await get<Sites>(`${b.api}/v1/sites`)).remote[0]?.link === 'down', 15_000, 'B sees the link down')
  await waitUntil(async () => (await get<Sites>(`${a.api}/v1/sites`)).remote[0]?.link === 'down', 15_000, 'A sees the link down')
  t.comment(`link seen down after ${Date.now() - cutAt} ms (siteStaleAfter 3s)`)
  t.ok(((await get<Sites>(`${b.api}/v1/sites`)).remote[0].summaryAgeMs ?? 0) >= 2000, 'no summary of A arrives while cut')
  t.equal((await get<Eps>(`${b.api}/v1/services/web/endpoints`)).endpoints.length, 1, 'B keeps its own endpoint')
  t.match((await get<Sites>(`${b.api}/v1/sites`)).remote[0], { endpoints: 0, stale: true }, 'B keeps A\'s last state (now empty), stale')
  eps = await get<Eps>(`${a.api}/v1/services/web/endpoints`)
  t.same(eps.endpoints.map((e) => [e.ip, e.site, e.stale]), [['10.240.0.111', 'b', true]], 'A still answers B\'s last endpoints, marked stale')
  // a change in A while cut stays local until the link returns
  await a.agent.snapshot([webA[0]])
  await waitUntil(async () => (await get<Eps>(`${a.api}/v1/services/web/endpoints`)).endpoints[0]?.site === undefined, 10_000, 'A local again')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal((await get<Sites>(`${b.api}/v1/sites`)).remote[0].endpoints, 0, 'B does not see A\'s change while cut')

  nats.link.restore()
  const back = Date.now()
  await waitUntil(async () => { const r = (await get<Sites>(`${b.api}/v1/sites`)).remote[0]; return r.link === 'up' && r.endpoints === 1 }, 20_000, 'B catches up')
  t.comment(`caught up ${Date.now() - back} ms after the link returned`)
  await waitUntil(async () => (await get<Sites>(`${a.api}/v1/sites`)).remote[0]?.link === 'up', 20_000, 'A sees the link up')
  // The stall showed after a cut: the mirror restarted past revisions it never got.
  await waitUntil(async () => { for (const api of [a.api, b.api]) if (((await get<Sites>(`${api}/v1/sites`)).remote[0].summaryAgeMs ?? Infinity) > 1500) return false; return true }, 15_000, 'both sites hear each other\'s summaries again after the cut')
  await new Promise((resolve) => setTimeout(resolve, 4000))
  for (const api of [a.api, b.api]) t.ok(((await get<Sites>(`${api}/v1/sites`)).remote[0].summaryAgeMs ?? Infinity) < 2500, `${api === a.api ? 'A' : 'B'} still hears the other site 4 s later`)
  t.same((await get<Sites>(`${a.api}/v1/sites`)).failedOver, [], 'nothing failed over once A has its own endpoint')
  // each site reads its own buckets, never the other site's mirror of the same name
  t.ok((await (await openBucket(a.nc, Buckets.hosts)).get('ha1'))?.json<{ host: string }>().host === 'ha1', 'A reads its own host record')
  t.ok((await (await openBucket(b.nc, Buckets.hosts)).get('hb1'))?.json<{ host: string }>().host === 'hb1', 'B reads its own host record')
})
