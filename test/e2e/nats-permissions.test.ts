// The README's "NATS credentials per role" table, applied to a real
// nats-server: each role runs with a user allowed exactly what the table
// lists (parsed from README.md, so the table cannot drift from what is
// tested). A container started on the testbed must reach nginx with no
// permission violation logged, and what the table forbids must be refused.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { Testbed, startNats, startNginx, freePort, waitFor } from '../harness/index.js'
import { projectRoot } from '../../src/cli/version.js'
import { encodeJson, openBucket, Buckets } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { createAgent, resolveAgentConfig } from '../../src/agent/index.js'
import { bindByMac } from '../../src/agent/ipam/index.js'
import { createRenderer } from '../../src/renderer/index.js'
import { exampleHttpBody, get } from '../integration/renderer-fixtures.js'

interface Perms { publish: string[], subscribe: string[] }

/** The subjects in one README table cell (backticked, with a dot; queue names have none). */
const subjectsIn = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]).filter((s) => s.includes('.'))

/** Role rows of the README's permission table, with the example host and renderer ids replaced. */
function readmePermissions (host: string, renderer: string): Record<'agent' | 'registry' | 'renderer', Perms> {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('### NATS credentials per role'))
  const row = (role: string): Perms => {
    const line = section.split('\n').find((l) => l.startsWith(`| ${role}`))
    if (line === undefined) throw new Error(`README: no "${role}" row in the NATS permission table`)
    const cells = line.split('|').map((c) => c.trim())
    const fix = (s: string): string => s.replace(/\.h1$/, `.${host}`).replace(/\.edge1$/, `.${renderer}`)
    return { publish: subjectsIn(cells[2]).map(fix), subscribe: subjectsIn(cells[3]).map(fix) }
  }
  return { agent: row('agent'), registry: row('registry'), renderer: row('renderer') }
}

const PASS = 'permissions-test-password'
const tb = await Testbed.create({ hosts: 1, name: 'perms' })
t.teardown(async () => { await tb.teardown() })
const host = tb.hosts[0].name
const perms = readmePermissions(host, 'edge1')
const dir = mkdtempSync(join(tmpdir(), 'dg-perms-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const user = (name: string, p?: Perms): unknown => ({
  user: name, password: PASS, ...(p !== undefined ? { permissions: { publish: p.publish, subscribe: p.subscribe } } : {}),
})
// JSON is valid nats-server config syntax.
writeFileSync(join(dir, 'nats.conf'), JSON.stringify({
  authorization: {
    users: [user('admin'), user('registry', perms.registry), user(`agent-${host}`, perms.agent), user('renderer-edge1', perms.renderer)],
  },
}))
const nats = await startNats({ args: ['-c', join(dir, 'nats.conf')] })
t.teardown(async () => { await nats.stop() })
const violations = (): string[] => readFileSync(nats.logFile, 'utf8').split('\n').filter((l) => /violation/i.test(l))
const as = async (name: string): Promise<NatsConnection> => await connect({ servers: nats.url, user: name, pass: PASS })

const log = silentLogger()
const registry = createRegistry(resolveRegistryConfig({
  nats: nats.url, natsUser: 'registry', natsPass: PASS, httpPort: 0, dnsPort: 0, heartbeatInterval: '500ms',
}), { log })
t.teardown(async () => { await registry.close() })
await registry.start()

const agent = createAgent(resolveAgentConfig({
  ipamDriver: false,
  hostId: host, docker: tb.hosts[0].socketPath, nats: nats.url, natsUser: `agent-${host}`, natsPass: PASS, network: 'mv0', heartbeatInterval: '500ms',
}), { log })
t.teardown(async () => { await agent.close() })
await agent.start()

const out = join(dir, 'out')
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody() })
t.teardown(async () => { await nginx.stop() })
const renderer = createRenderer({
  id: 'edge1', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
  statusPort: await freePort(), minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 10_000, announceIntervalMs: 1000,
}, { natsOptions: { servers: nats.url, user: 'renderer-edge1', pass: PASS }, log })
t.teardown(async () => { await renderer.close() })
await renderer.start()

t.test('every role works with only the README permissions', async (t) => {
  t.ok(perms.agent.publish.includes(`driftgate.events.${host}`), 'table parsed: agent publishes its own events')
  const id = await tb.run(tb.hosts[0], { labels: { 'driftgate.service': 'web' } })
  const ip = (await tb.inspect(tb.hosts[0], id)).NetworkSettings.Networks.mv0.IPAddress as string
  await waitFor(async () => {
    const r = await get(nginx.port, 'web')
    return r.status === 200 && r.body.includes(ip)
  }, { what: 'the new container served through nginx', timeoutMs: 30_000, intervalMs: 100 })
  t.pass(`container ${ip} served through nginx`)
  // The agent's IPAM requests get the registry's answer (an error here: no pool covers the address).
  const nc = await as(`agent-${host}`)
  t.teardown(async () => { await nc.close() })
  await t.rejects(bindByMac(nc, { host, mac: '02:42:0a:f7:00:09', ip, containerId: id }), /pool containing .* not found/,
    'IPAM request answered by the registry')
  // Periodic work too: heartbeats, announcements, the agent's watches.
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.same(violations(), [], 'no permission violation in the nats-server log')
})

t.test('an agent cannot speak for another host', async (t) => {
  const nc = await as(`agent-${host}`)
  t.teardown(async () => { await nc.close() })
  const before = violations().length
  nc.publish('driftgate.events.other-host', encodeJson({ v: 1 }))
  nc.publish('driftgate.heartbeat.other-host', encodeJson({ v: 1 }))
  await nc.flush()
  await waitFor(() => violations().length >= before + 2, { what: 'two publish violations', timeoutMs: 5000 })
  const got = violations().slice(before).join('\n')
  t.match(got, /driftgate\.events\.other-host/)
  t.match(got, /driftgate\.heartbeat\.other-host/)
  const admin = await as('admin')
  t.teardown(async () => { await admin.close() })
  const info = await (await admin.jetstreamManager()).streams.info('DRIFTGATE_EVENTS', { subjects_filter: 'driftgate.events.other-host' })
  t.same(info.state.subjects ?? {}, {}, 'nothing stored for the other host')
})

t.test('a renderer cannot write the endpoint table', async (t) => {
  const nc = await as('renderer-edge1')
  t.teardown(async () => { await nc.close() })
  const kv = await openBucket(nc, Buckets.endpoints)
  await t.rejects(kv.put('web.forged', encodeJson({ v: 1 })), 'put refused')
  const admin = await as('admin')
  t.teardown(async () => { await admin.close() })
  t.equal(await (await openBucket(admin, Buckets.endpoints)).get('web.forged'), null, 'no forged record')
})
