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
import type { Counter, Registry } from 'prom-client'
import { decodeJson, encodeJson, openBucket, Buckets } from '../../src/bus/index.js'
import { addressKey, silentLogger } from '../../src/core/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { createAgent, resolveAgentConfig } from '../../src/agent/index.js'
import { bindByMac } from '../../src/agent/ipam/index.js'
import { createRenderer } from '../../src/renderer/index.js'
import { exampleHttpBody, get } from '../integration/renderer-fixtures.js'
import { addPool } from '../integration/ipam-fixtures.js'

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
    // Whole tokens only: `driftgate.ipam.h1.>` names the host in the middle.
    const fix = (s: string): string => s.split('.').map((tok) => (tok === 'h1' ? host : tok === 'edge1' ? renderer : tok)).join('.')
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

t.test('an agent ships its own logs and cannot publish or read log cursors of another host (issue 18)', async (t) => {
  const admin = await as('admin')
  t.teardown(async () => { await admin.close() })
  const jsm = await admin.jetstreamManager()
  // The web container of the first test served requests: its lines are in the stream under this host.
  await waitFor(async () => Object.keys((await jsm.streams.info('DRIFTGATE_LOGS', { subjects_filter: `driftgate.logs.web.${host}.*` })).state.subjects ?? {}).length > 0,
    { what: 'the agent\'s log batches stored', timeoutMs: 10_000 })
  t.pass('lines stored under the agent\'s own host')
  const nc = await as(`agent-${host}`)
  t.teardown(async () => { await nc.close() })
  const v0 = violations().length
  nc.publish('driftgate.logs.web.other-host.abcdef012345', encodeJson({ v: 1, service: 'web', host: 'other-host', container: 'abcdef012345', lines: [] }))
  await nc.flush()
  await waitFor(() => violations().length >= v0 + 1, { what: 'a publish violation', timeoutMs: 5000 })
  t.match(violations().slice(v0).join('\n'), /driftgate\.logs\.web\.other-host/, 'logs for another host: permission violation')
  await t.rejects(nc.request('$JS.API.DIRECT.GET.DRIFTGATE_LOGS.driftgate.logs.web.other-host.abcdef012345', new Uint8Array(0), { timeout: 2000 }),
    'another host\'s cursor cannot be read')
  const info = await jsm.streams.info('DRIFTGATE_LOGS', { subjects_filter: 'driftgate.logs.*.other-host.*' })
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

/** A counter's value for the labels given (0 when the metric or series does not exist). */
async function counted (reg: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const c = reg.getSingleMetric(name) as Counter | undefined
  const v = (await c?.get())?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l))
  return v?.value ?? 0
}

t.test('an agent cannot release, allocate or forge snapshots for another host (issue 15)', async (t) => {
  const admin = await as('admin')
  t.teardown(async () => { await admin.close() })
  // other-host's bound address, made with the admin user: KV records only, never configured on an interface.
  const ipamKv = await openBucket(admin, Buckets.ipam)
  await addPool(ipamKv, 'forge', { subnet: '10.247.254.0/24' })
  const adminAsk = async (subject: string, body: object): Promise<any> => {
    const d = decodeJson((await admin.request(subject, encodeJson(body), { timeout: 5000 })).data)
    return d.ok ? d.value : d.reason
  }
  const otherMac = '02:42:0a:f7:fe:01'
  const cid = 'f'.repeat(64)
  let alloc: any
  await waitFor(async () => { alloc = await adminAsk('driftgate.ipam.other-host.allocate', { v: 1, pool: 'forge', host: 'other-host', mac: otherMac }); return alloc.ok === true },
    { what: 'the registry mirrors the new pool', timeoutMs: 10_000 })
  const ip = alloc.ip as string
  t.match(await adminAsk('driftgate.ipam.other-host.bind', { v: 1, host: 'other-host', mac: otherMac, ip, containerId: cid }), { ok: true, record: { state: 'bound' } })
  const record = async (): Promise<unknown> => { const e = await ipamKv.get(addressKey('forge', ip)); return e == null ? null : decodeJson(e.value) }
  const before = await record()

  const nc = await as(`agent-${host}`)
  t.teardown(async () => { await nc.close() })
  // 1. Another host's subject: refused by nats-server.
  const v0 = violations().length
  nc.publish('driftgate.ipam.other-host.release', encodeJson({ v: 1, pool: 'forge', ip, host: 'other-host', mac: otherMac }))
  nc.publish('driftgate.snapshot.other-host', encodeJson({ v: 1 }))
  await nc.flush()
  await waitFor(() => violations().length >= v0 + 2, { what: 'two publish violations', timeoutMs: 5000 })
  t.match(violations().slice(v0).join('\n'), /driftgate\.ipam\.other-host\.release/, 'IPAM release on another host\'s subject: permission violation')

  // 2. Its own subject, another host in the payload: refused by the registry, counted.
  const reg = registry.metrics
  const refusedBefore = await counted(reg, 'driftgate_ipam_refused_total', { what: 'request', reason: 'host_mismatch' })
  const ask = async (op: string, body: object): Promise<any> => decodeJson((await nc.request(`driftgate.ipam.${host}.${op}`, encodeJson(body), { timeout: 5000 })).data)
  t.match(await ask('release', { v: 1, pool: 'forge', ip, host: 'other-host', mac: otherMac }),
    { ok: true, value: { ok: false, code: 'DG_VALIDATION', error: /names host "other-host"/ } }, 'release for other-host on its own subject refused')
  t.match(await ask('allocate', { v: 1, pool: 'forge', host: 'invented', mac: '02:42:0a:f7:fe:02' }),
    { ok: true, value: { ok: false, code: 'DG_VALIDATION' } }, 'allocation for an invented host refused')
  t.equal(await counted(reg, 'driftgate_ipam_refused_total', { what: 'request', reason: 'host_mismatch' }), refusedBefore + 2, 'both counted')

  // 3. A snapshot on its own subject naming other-host: neither ingest nor the leak collector takes it.
  const snapRefused = await counted(reg, 'driftgate_ipam_refused_total', { what: 'snapshot', reason: 'host_mismatch' })
  for (let i = 0; i < 2; i++) {
    const now = Date.now() + 1000 + i
    nc.publish(`driftgate.snapshot.${host}`, encodeJson({ v: 1, host: 'other-host', instance: '0000000aa-abcdef', seq: now, time: now, sentAt: now, endpoints: [], containers: [] }))
  }
  await nc.flush()
  await waitFor(async () => await counted(reg, 'driftgate_ipam_refused_total', { what: 'snapshot', reason: 'host_mismatch' }) >= snapRefused + 2,
    { what: 'the forged snapshots refused by the leak collector', timeoutMs: 10_000 })
  await waitFor(async () => await counted(reg, 'driftgate_registry_invalid_messages_total', { reason: 'host_mismatch' }) >= 2,
    { what: 'the forged snapshots refused by ingest', timeoutMs: 10_000 })
  t.same(await record(), before, 'other-host\'s address unchanged: still bound, no miss counted')
  t.match(await record(), { ok: true, value: { state: 'bound', owner: { host: 'other-host', container: cid } } })
})

t.test('a renderer cannot announce for another renderer (issue 15)', async (t) => {
  const nc = await as('renderer-edge1')
  t.teardown(async () => { await nc.close() })
  const msg = (renderer: string): Uint8Array => encodeJson({ v: 1, renderer, generation: 1, endpointsRevision: 1, containers: ['e'.repeat(64)], appliedAt: Date.now() })
  const v0 = violations().length
  nc.publish('driftgate.applied.edge2', msg('edge2'))
  await nc.flush()
  await waitFor(() => violations().length >= v0 + 1, { what: 'a publish violation', timeoutMs: 5000 })
  t.match(violations().slice(v0).join('\n'), /driftgate\.applied\.edge2/, 'another renderer\'s subject: permission violation')
  nc.publish('driftgate.applied.edge1', msg('edge2'))
  await nc.flush()
  await waitFor(async () => await counted(agent.metrics, 'driftgate_agent_applied_refused_total', { reason: 'renderer_mismatch' }) === 1,
    { what: 'the agent refusing edge1 speaking for edge2', timeoutMs: 5000 })
  t.pass('refused and counted by the agent\'s drain tracker')
})
