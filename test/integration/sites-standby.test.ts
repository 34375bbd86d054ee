// Standby takeover between two sites (issue 21), no dockerd: real
// nats-servers joined by a leaf link (through a relay the test can cut),
// real registries (B with placement, which leads and writes). Site A runs
// `web` and `api` with `standby: { site: b, replicas: 0 }`; B keeps copies
// at 0 and scales them from its own view only. Short grace/hold so the file
// stays well under 45 s.
import t from 'tap'
import { connect, type NatsConnection } from 'nats'
import { startNatsSites, type NatsSites } from '../harness/index.js'
import { freePorts } from '../../src/lab/index.js'
import { createRegistry, resolveRegistryConfig, type DriftgateRegistry } from '../../src/registry/index.js'
import { sitesComponent, lookupComponent, placementComponent } from '../../src/registry/components.js'
import { Buckets, decodeJson, encodeJson, openBucket } from '../../src/bus/index.js'
import { silentLogger, type ServiceRecord, type ServiceSpec } from '../../src/core/index.js'
import { listHistory } from '../../src/placement/history.js'
import { ScriptedAgent, endpoint, waitUntil } from './registry-fixtures.js'

const GRACE = 4000
const HOLD = 3000

interface Site { reg: DriftgateRegistry, nc: NatsConnection, api: string }

async function startRegistry (url: string, site: string, other: string, placement: boolean): Promise<Site> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  const [httpPort, dnsPort] = await freePorts(2)
  const reg = createRegistry(resolveRegistryConfig({
    httpPort, dnsPort, site, remoteSite: [other], placement, standbyGrace: `${GRACE}ms`, standbyHold: `${HOLD}ms`, standbyCooldown: '60s',
  }), { nc, log: silentLogger(), components: [...(placement ? [placementComponent] : []), sitesComponent, lookupComponent] })
  await reg.start()
  return { reg, nc, api: `http://127.0.0.1:${httpPort}` }
}

const spec = (name: string, replicas: number): ServiceSpec => ({
  name, image: 'x', replicas, port: 80, network: 'mv0', resources: {}, env: {}, upstream: {}, placement: { spread: 'host' }, standby: { site: 'b', replicas: 0 },
})
interface SiteRow { site: string, lost: boolean, takenOver: string[], summaryAgeMs: number | null }
const sites = async (api: string): Promise<SiteRow> => ((await (await fetch(`${api}/v1/sites`)).json()) as { remote: SiteRow[] }).remote[0]

t.test('standby: takeover when A is silent, back after A serves for the hold, a cut is bounded', async (t) => {
  const nats: NatsSites = await startNatsSites()
  t.teardown(() => nats.stop())
  const open: Site[] = []
  t.teardown(async () => { for (const s of open) { await s.reg.close(); await s.nc.close() } })
  const agentNc = await connect({ servers: nats.a.url })
  t.teardown(() => agentNc.close())
  const agent = new ScriptedAgent(agentNc, 'ha1')
  const bAgentNc = await connect({ servers: nats.b.url })
  t.teardown(() => bAgentNc.close())
  const bAgent = new ScriptedAgent(bAgentNc, 'hb1')
  agent.heartbeat(); bAgent.heartbeat()
  const beats = setInterval(() => { agent.heartbeat(); bAgent.heartbeat() }, 500)
  t.teardown(() => clearInterval(beats))

  let a = await startRegistry(nats.a.url, 'a', 'b', false); open.push(a)
  const b = await startRegistry(nats.b.url, 'b', 'a', true); open.push(b)
  await agent.snapshot([endpoint('web', 1, 11), endpoint('web', 2, 12), endpoint('api', 3, 13)])
  await bAgent.snapshot([endpoint('cache', 101, 111)])
  const aServices = await openBucket(agentNc, Buckets.services)
  for (const [name, n] of [['web', 2], ['api', 3]] as const) {
    await aServices.put(name, encodeJson({ v: 1, version: 1, updatedAt: Date.now(), spec: spec(name, n) } satisfies ServiceRecord))
  }
  const bServices = await openBucket(b.nc, Buckets.services)
  const bHistory = await openBucket(b.nc, Buckets.history)
  const copy = async (name: string): Promise<ServiceRecord | undefined> => {
    const e = await bServices.get(name)
    if (e == null || e.operation !== 'PUT') return undefined
    const d = decodeJson(e.value)
    return d.ok ? d.value as ServiceRecord : undefined
  }
  const replicas = async (name: string): Promise<number | undefined> => (await copy(name))?.spec.replicas

  // 1. B keeps copies at the standby count, marked as copies, written by the standby.
  await waitUntil(async () => await replicas('web') === 0 && await replicas('api') === 0, 15_000, 'B has copies at 0')
  const w = await copy('web')
  t.same(w?.spec.standby, { site: 'b', replicas: 0 }, 'the copy names this site as its standby (a copy)')
  t.equal((await listHistory(bHistory, 'web', w!.version))[0]?.by, 'standby:a', 'history says the standby wrote it')
  await waitUntil(async () => (await sites(b.api)).summaryAgeMs !== null, 10_000, 'B hears A\'s summaries')
  t.match(await sites(b.api), { lost: false, takenOver: [] })

  // 2. A's control plane stops (its registry; its hosts keep beating but nobody writes a summary).
  const stoppedAt = Date.now()
  await a.reg.close(); await a.nc.close(); open.splice(open.indexOf(a), 1)
  await waitUntil(async () => await replicas('web') === 2 && await replicas('api') === 3, GRACE + 10_000, 'B scales its copies up')
  const upAfter = Date.now() - stoppedAt
  // Silence counts from the last summary heard, written up to 1 s before the stop.
  t.ok(upAfter >= GRACE - 1100, `no takeover before the grace (${upAfter} ms after the stop)`)
  t.ok(upAfter < GRACE + 3000, `takeover within grace + 3 s (${upAfter} ms, grace ${GRACE} ms)`)
  t.comment(`A stopped → B scaled to A's counts after ${upAfter} ms (grace ${GRACE} ms)`)
  t.match(await sites(b.api), { lost: true, takenOver: ['api', 'web'] }, '/v1/sites: A lost, both taken over')

  // 3. A comes back and serves (its endpoints are still routable): back to 0 after the hold.
  a = await startRegistry(nats.a.url, 'a', 'b', false); open.push(a)
  const backAt = Date.now()
  await waitUntil(async () => !(await sites(b.api)).lost, 10_000, 'B hears A again')
  t.ok((await replicas('web')) === 2, 'still taken over while the hold runs')
  await waitUntil(async () => await replicas('web') === 0 && await replicas('api') === 0, HOLD + 10_000, 'B scales back')
  const downAfter = Date.now() - backAt
  t.ok(downAfter >= HOLD, `scale-back not before the hold (${downAfter} ms after A restarted, hold ${HOLD} ms)`)
  t.comment(`A back → B scaled back after ${downAfter} ms (hold ${HOLD} ms)`)

  // 4. The link is cut while both run, past the grace: B cannot tell a cut
  // from a loss. web and api were scaled back within the cooldown: no second
  // takeover. db (new, no cooldown) is taken over once, to A's count, and
  // stays there (no storm); nothing local is lost on either side; after the
  // link returns and A has served db for the hold, db goes back to 0.
  await aServices.put('db', encodeJson({ v: 1, version: 1, updatedAt: Date.now(), spec: spec('db', 2) } satisfies ServiceRecord))
  await agent.upsert(endpoint('db', 4, 14))
  await waitUntil(async () => await replicas('db') === 0, 10_000, 'B has a copy of db at 0')
  const aEndpoints = await openBucket(agentNc, Buckets.endpoints)
  const bEndpoints = async (): Promise<number> => (await (await fetch(`${b.api}/v1/services/cache/endpoints`)).json() as { endpoints: unknown[] }).endpoints.length
  t.equal(await bEndpoints(), 1, 'B serves its own cache endpoint')
  const countKeys = async (): Promise<number> => { let n = 0; for await (const _k of await aEndpoints.keys()) n++; return n }
  const aKeysBefore = await countKeys()
  nats.link.cut()
  await waitUntil(async () => (await sites(b.api)).lost, GRACE + 8000, 'B judges A lost during the cut')
  await waitUntil(async () => await replicas('db') === 2, 5000, 'db taken over during the cut')
  const seen = new Set<number | undefined>()
  const seenDb = new Set<number | undefined>()
  for (let i = 0; i < 6; i++) { seen.add(await replicas('web')); seen.add(await replicas('api')); seenDb.add(await replicas('db')); await new Promise((resolve) => setTimeout(resolve, 500)) }
  t.same([...seen], [0], 'web and api: no takeover during the cut (cooldown after their scale-back)')
  t.same([...seenDb], [2], 'db: taken over once to A\'s count, and no further')
  t.equal(await countKeys(), aKeysBefore, 'A lost no endpoint during the cut')
  t.equal(await bEndpoints(), 1, 'B lost no endpoint during the cut')
  nats.link.restore()
  await waitUntil(async () => { const s = await sites(b.api); return !s.lost && s.summaryAgeMs !== null && s.summaryAgeMs < 2000 }, 20_000, 'B hears A after the link returns')
  t.same([await replicas('web'), await replicas('api')], [0, 0], 'web and api still at the standby count')
  await waitUntil(async () => await replicas('db') === 0, HOLD + 10_000, 'db back to 0 after A served it for the hold')
  const reasons = async (name: string): Promise<string[]> => (await listHistory(bHistory, name, (await copy(name))!.version)).map((e) => e.reason).reverse()
  t.same(await reasons('web'), ['sync', 'takeover', 'scale-back'], 'web\'s whole standby history: one takeover, one scale-back')
  t.same(await reasons('db'), ['sync', 'takeover', 'scale-back'], 'db\'s: one takeover during the cut, one scale-back after')
})
