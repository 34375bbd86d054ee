// The real thing: 3 Docker hosts (testbed), a real agent on each, one
// registry. The endpoint table must match the labelled running containers
// after starts, stops, kills and network changes, and again after one agent
// was killed, containers changed behind its back, and the agent restarted.
import t from 'tap'
import { connect, type NatsConnection } from 'nats'
import { Testbed, startNats, waitFor } from '../harness/index.js'
import { createAgent, resolveAgentConfig, type Agent } from '../../src/agent/index.js'
import { silentLogger } from '../../src/core/index.js'
import { startRegistry, liveTable } from './registry-fixtures.js'

const tb = await Testbed.create({ hosts: 3, name: 'registry-tb' })
t.teardown(async () => { await tb.teardown() })
const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close() })
const reg = await startRegistry(nats.url, { heartbeatInterval: '500ms', hostGrace: '6s' })
t.teardown(async () => { await reg.close() })

interface Running { agent: Agent, nc: NatsConnection }
const agents = new Map<string, Running>()
async function startAgent (i: number): Promise<void> {
  const h = tb.hosts[i]
  const anc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  const agent = createAgent(resolveAgentConfig({ ipamDriver: false, hostId: h.name, nats: nats.url, docker: h.socketPath, network: 'mv0', resyncInterval: '5s', heartbeatInterval: '500ms', watchdog: '5s' }),
    { nc: anc, log: silentLogger() })
  await agent.start()
  agents.set(h.name, { agent, nc: anc })
}
/** Like a crash: the connection goes first, nothing is said on the way out. */
async function killAgent (i: number): Promise<void> {
  const a = agents.get(tb.hosts[i].name)
  agents.delete(tb.hosts[i].name)
  await a?.nc.close()
  await a?.agent.close().catch(() => undefined)
}
t.teardown(async () => { for (let i = 0; i < 3; i++) await killAgent(i) })
for (let i = 0; i < 3; i++) await startAgent(i)

/** What the table must hold: every labelled running container with its mv0 address. */
async function truth (): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const h of tb.hosts) {
    const ids = (await tb.docker(h)('ps', '-q', '--no-trunc', '--filter', 'label=driftgate.service')).split('\n').filter(Boolean)
    for (const id of ids) {
      const c = await tb.inspect(h, id)
      const ip = c.NetworkSettings?.Networks?.mv0?.IPAddress as string | undefined
      if (c.State?.Running === true && ip) out.set(`${c.Config.Labels['driftgate.service'] as string}.${id}`, `${h.name}/${ip}`)
    }
  }
  return out
}
async function table (): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const [k, r] of await liveTable(nc)) if (r.state === 'running') out.set(k, `${r.host}/${r.ip}`)
  return out
}
async function converges (t: { fail: (m: string) => void, pass: (m: string) => void }, what: string): Promise<void> {
  let last = ''
  await waitFor(async () => {
    const [want, got] = [await truth(), await table()]
    last = `want ${JSON.stringify([...want])}\n got ${JSON.stringify([...got])}`
    return want.size === got.size && [...want].every(([k, v]) => got.get(k) === v)
  }, { timeoutMs: 30_000, intervalMs: 250, what }).catch((err: Error) => { t.fail(`${err.message}\n${last}`) })
  t.pass(what)
}

const ids: string[][] = [[], [], []]
const run = async (i: number, service: string): Promise<string> => {
  const id = await tb.run(tb.hosts[i], { labels: { 'driftgate.service': service } })
  ids[i].push(id)
  return id
}

t.test('starts on three hosts', async (t) => {
  for (let i = 0; i < 3; i++) { await run(i, 'web'); await run(i, 'web'); await run(i, 'api') }
  await tb.run(tb.hosts[0], {}) // unlabelled: never in the table
  await converges(t, '9 endpoints')
  t.equal((await table()).size, 9)
})

t.test('stop, kill, start and a network change', async (t) => {
  await tb.stop(tb.hosts[0], ids[0][0], 1)
  await tb.kill(tb.hosts[1], ids[1][0])
  await run(2, 'api')
  // Network change: off mv0 (leaves the table), back on with another address.
  const moved = ids[2][1]
  const before = await tb.ipOf(tb.hosts[2], moved, 'mv0')
  await tb.docker(tb.hosts[2])('network', 'disconnect', 'mv0', moved)
  await converges(t, 'disconnected container left')
  const placeholder = await run(2, 'filler') // takes the freed address
  await tb.docker(tb.hosts[2])('network', 'connect', 'mv0', moved)
  const after = await tb.ipOf(tb.hosts[2], moved, 'mv0')
  t.not(after, before, `moved ${before} → ${after} (filler ${placeholder.slice(0, 12)} took the old one)`)
  await converges(t, 'after stop, kill, start, network change')
})

t.test('an agent killed, containers changed meanwhile, agent restarted', async (t) => {
  await killAgent(1)
  const gone = ids[1][1]
  await tb.kill(tb.hosts[1], gone)
  await tb.rm(tb.hosts[1], gone)
  await run(1, 'web')
  await run(1, 'late')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.ok((await table()).has(`web.${gone}`), 'while the agent is dead its old state stays (host only suspect)')
  await startAgent(1)
  await converges(t, 'after the agent restart (snapshot)')
})

t.test('a host whose agent and dockerd stop leaves the table after the grace period', async (t) => {
  const h3 = tb.hosts[2].name
  const stoppedAt = Date.now()
  await killAgent(2)
  await tb.stopDockerd(2)
  await waitFor(async () => ![...(await table()).values()].some((v) => v.startsWith(`${h3}/`)), { timeoutMs: 30_000, what: `${h3} endpoints gone` })
  const after = Date.now() - stoppedAt
  // Grace counts from the last *recorded* beat: the last beat came up to one interval (500 ms) before the
  // stop, and a beat that only moves lastSeen is written every suspect/2 (750 ms, liveness.ts heartbeatIsNews).
  t.ok(after >= 6000 - 500 - 750, `gone after ${after} ms (grace 6 s from the last recorded beat)`)
  t.equal(reg.reg.tables!.hosts.get(h3)?.value?.status, 'down')
  const left = [...(await table()).values()]
  t.ok(left.length > 0 && left.every((v) => !v.startsWith(`${h3}/`)), 'the other hosts keep theirs')
  await tb.startDockerd(2)
})
