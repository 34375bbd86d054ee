// The agent's IPAM wiring on a real testbed: 3 hosts, each with its own
// dockerd and the real agent serving its own IPAM driver (every dockerd on the
// machine reads /run/docker/plugins, so each host's driver has its own name),
// one pool shared by all, a registry running the allocator. Containers started
// with plain `docker run` get distinct addresses; the agent binds each one to
// its container (labelled or not: an unlabelled container's address must not
// expire either); `docker rm` releases it into quarantine.
import t from 'tap'
import { rmSync } from 'node:fs'
import { connect } from 'nats'
import { startNats, Testbed, waitFor } from '../harness/index.js'
import { Buckets, openBucket } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { createAgent, resolveAgentConfig, type Agent } from '../../src/agent/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { ipamComponent } from '../../src/registry/components.js'
import { addPool, allocations } from './ipam-fixtures.js'
import { testLogger } from './agent-fixtures.js'

const PER_HOST = Number(process.env.AGENT_IPAM_PER_HOST ?? 10)
const POOL = 'mv'

const tb = await Testbed.create({ hosts: 3, network: false, name: 'agent-ipam' })
const nats = await startNats()
const nc = await connect({ servers: nats.url })
const agents: Agent[] = []
const registry = createRegistry(resolveRegistryConfig({ nats: nats.url, httpPort: 0, dnsPort: 0 }), { nc, log: silentLogger(), components: [ipamComponent] })
// One teardown, in order: dockerd first (its containers release through the drivers), then agents, registry, NATS.
t.teardown(async () => {
  await tb.teardown()
  for (const a of agents) await a.close()
  await registry.close()
  await nc.close()
  await nats.stop()
})
await registry.start()
const kv = await openBucket(nc, Buckets.ipam)
// The testbed's /24: bridge .1 (gateway), hosts' eth0 .11–.16; .2–.63 stay out of the pool.
const base = tb.subnet.split('/')[0].split('.').slice(0, 3).join('.')
await addPool(kv, POOL, { subnet: tb.subnet, gateway: tb.gateway, range: `${base}.64-${base}.254` })

const names = tb.hosts.map((h) => `dg-${tb.id}-${h.name}`)
// Even if this process dies before its teardown: no driver socket of ours is left in the shared folder.
process.once('exit', () => { for (const n of names) rmSync(`/run/docker/plugins/${n}.sock`, { force: true }) })
for (const [i, h] of tb.hosts.entries()) {
  const agent = createAgent(resolveAgentConfig({
    hostId: h.name, docker: h.socketPath, nats: nats.url, network: 'mv0', heartbeatInterval: '1s', resyncInterval: '5s', ipamDriverName: names[i],
  }), { log: testLogger() })
  agents.push(agent)
  await agent.start()
  // No assertion before the first subtest: tap's root would end (and tear the testbed down) meanwhile.
  await tb.docker(h)('network', 'create', '-d', 'macvlan', '--ipam-driver', names[i], '--subnet', tb.subnet, '-o', 'parent=eth0', 'mv0')
}

const key = (ip: string): string => `${POOL}.${ip.replace(/\./g, '-')}`
const counterSum = async (a: Agent, name: string, having = ''): Promise<number> => (await a.metrics.metrics())
  .split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(having)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)
const bindFailures = async (a: Agent): Promise<number> => await counterSum(a, 'driftgate_agent_ipam_bind_failed_total')

interface Run { host: number, name: string, id: string, ip: string, mac: string, labelled: boolean }
const runs: Run[] = []

t.test(`3 hosts × ${PER_HOST} docker run on the shared pool: distinct addresses, each bound to its container by the agent`, async (t) => {
  t.same(agents.map((a) => a.ipamSocketPath), names.map((n) => `/run/docker/plugins/${n}.sock`), 'each agent serves its own driver')
  const t0 = Date.now()
  await Promise.all(tb.hosts.map(async (h, i) => {
    // Half labelled (published endpoints), half not (only the IPAM binder sees them).
    for (let n = 0; n < PER_HOST; n++) {
      const labelled = n % 2 === 0
      const id = await tb.run(h, { network: 'mv0', cmd: ['sleep', '3600'], ...(labelled ? { labels: { 'driftgate.service': 'web' } } : {}) })
      const net = (await tb.inspect(h, id)).NetworkSettings.Networks.mv0 as { IPAddress: string, MacAddress: string }
      runs.push({ host: i, name: h.name, id, ip: net.IPAddress, mac: net.MacAddress.toLowerCase(), labelled })
    }
  }))
  t.comment(`${runs.length} docker run in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  t.equal(runs.length, 3 * PER_HOST)
  t.equal(new Set(runs.map((r) => r.ip)).size, runs.length, 'every address distinct across the 3 hosts')
  const last = (ip: string): number => Number(ip.split('.')[3])
  t.ok(runs.every((r) => r.ip.startsWith(`${base}.`) && last(r.ip) >= 64 && last(r.ip) <= 254), 'every address inside the pool range')

  const mismatched = async (): Promise<Run[]> => {
    const recs = await allocations(kv, POOL)
    return runs.filter((r) => {
      const rec = recs.get(key(r.ip))
      return rec?.state !== 'bound' || rec.owner.container !== r.id || rec.owner.host !== r.name || rec.owner.mac !== r.mac
    })
  }
  const bound = Date.now()
  await waitFor(async () => (await mismatched()).length === 0, { timeoutMs: 10_000, intervalMs: 200, what: 'every record bound to its container' })
    .catch(async (err: Error) => { t.comment(`not bound: ${JSON.stringify((await mismatched()).slice(0, 3))}`); throw err })
  t.pass(`every KV record bound to its container, host and MAC (${Date.now() - bound} ms after the last run)`)
  t.equal((await allocations(kv, POOL)).size, runs.length, 'no extra record')
  for (const a of agents) t.equal(await bindFailures(a), 0, 'no bind failed')
})

t.test('docker rm releases the address into quarantine', async (t) => {
  const victims = [runs.find((r) => r.labelled && r.host === 0)!, runs.find((r) => !r.labelled && r.host === 2)!]
  for (const v of victims) await tb.rm(v.host + 1, v.id)
  const recs = await waitFor(async () => {
    const all = await allocations(kv, POOL)
    return victims.every((v) => all.get(key(v.ip))?.state === 'quarantined') ? all : undefined
  }, { timeoutMs: 10_000, what: 'quarantined' })
  for (const v of victims) t.match(recs.get(key(v.ip)), { state: 'quarantined', reason: 'released', owner: { host: v.name, mac: v.mac } }, `${v.labelled ? 'labelled' : 'unlabelled'} container's address quarantined`)
  const others = runs.filter((r) => !victims.includes(r))
  t.ok(others.every((r) => recs.get(key(r.ip))?.state === 'bound'), 'the others stay bound')
})

t.test('snapshots neither rebind nor reclaim', async (t) => {
  // Every snapshot shows the binder every container again: it must not ask the allocator twice.
  const binds = async (): Promise<number> => (await registry.metrics.getSingleMetricAsString('driftgate_ipam_requests_total'))
    .split('\n').filter((l) => l.startsWith('driftgate_ipam_requests_total{') && l.includes('op="bind"')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)
  const n0 = await binds()
  // A bind whose reply was late is asked again (counted by the agent): the allocator may see both.
  let retried = 0
  for (const a of agents) retried += await counterSum(a, 'driftgate_agent_ipam_retries_total', 'op="bind"')
  t.ok(n0 >= runs.length && n0 <= runs.length + retried, `one bind request per container (${n0} for ${runs.length}, ${retried} retried after a timeout)`)
  const before = await allocations(kv, POOL)
  for (let i = 0; i < 2; i++) for (const a of agents) await a.snapshotNow()
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(await binds(), n0, 'no bind request from the agents\' snapshots')
  const after = await allocations(kv, POOL)
  t.ok([...before].every(([k, r]) => after.get(k)?.state === r.state && after.get(k)?.since === r.since), 'every record unchanged')
  for (const a of agents) t.equal(await bindFailures(a), 0, 'no bind failed')
})
