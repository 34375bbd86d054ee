// The harness itself, against the real daemons: a 3-host testbed with MacVLAN
// containers reachable from the root namespace, from other hosts and through
// an nginx started by the harness; nats-server start/stop/restart and a
// 3-node cluster; and after teardown, a machine exactly as before.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'nats'
import t from 'tap'
import { dirLeftovers, startNats, startNatsCluster, startNginx, Testbed, testbedLeftovers, waitFor } from '../harness/index.js'

interface Identity { host: string; ips: string[] }

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return res.text()
}
const identity = async (url: string): Promise<Identity> => JSON.parse(await waitFor(() => get(url), { what: url })) as Identity

t.test('3-host testbed: MacVLAN containers, nginx in front, clean teardown', async (t) => {
  const tb = await Testbed.create({ hosts: 3, name: 'harness-test' })
  t.teardown(() => tb.teardown())
  t.equal(tb.hosts.length, 3)
  t.match(tb.subnet, /^10\.(24\d|25[0-5])\.\d{1,3}\.0\/24$/, 'subnet inside 10.240.0.0/12')
  t.ok((await testbedLeftovers(tb)).some((l) => l.startsWith('netns')), 'the leftover check sees a live testbed')

  const web = await tb.run('h1', { name: 'web1', labels: { 'driftgate.service': 'web' } })
  const ip = await tb.ipOf('h1', web)
  t.equal((await tb.inspect('h1', web)).Config.Labels['driftgate.service'], 'web', 'labels are set')
  const fromRoot = await identity(`http://${ip}/`)
  t.same(fromRoot.ips, [ip], 'root namespace reaches the container by its MacVLAN IP')
  t.equal(fromRoot.host, web.slice(0, 12), 'and it answers with its own identity')
  t.same(JSON.parse(await get(`http://${ip}/healthz`)), fromRoot, '/healthz serves the identity too')

  const client = await tb.run('h2', { cmd: ['sleep', '3600'] })
  const viaH2 = JSON.parse(await tb.docker('h2')('exec', client, 'wget', '-qO-', `http://${ip}/`)) as Identity
  t.same(viaH2.ips, [ip], 'a container on h2 reaches the container on h1')

  const fixedIp = tb.hosts[2].ipRange.replace(/(\d+)\/27$/, (_, n: string) => String(Number(n) + 5)) // 6th of h3's range
  const fixed = await tb.run('h3', { ip: fixedIp })
  t.equal(await tb.ipOf('h3', fixed), fixedIp, 'run() honours ip')
  t.match(await tb.exec('h3', 'ip -4 -o addr show dev eth0'), tb.hosts[2].address, 'exec() runs inside the host namespace')

  const nginx = await startNginx({ conf: `server { listen 127.0.0.1:{{port}}; location / { proxy_pass http://${ip}:80; } }` })
  t.teardown(() => nginx.stop())
  t.same((await identity(`http://127.0.0.1:${nginx.port}/`)).ips, [ip], 'nginx proxies to the container')

  // The next upstream comes from an include dir, picked up by reload().
  const inc = mkdtempSync('/tmp/dginc-')
  t.teardown(() => rmSync(inc, { recursive: true, force: true }))
  const other = await tb.run('h2')
  const otherIp = await tb.ipOf('h2', other)
  writeFileSync(`${inc}/web.conf`, `upstream web { server ${otherIp}:80; }\n`)
  const nginx2 = await startNginx({ includeDir: inc, conf: 'server { listen 127.0.0.1:{{port}}; location / { proxy_pass http://web; } }' })
  t.same((await identity(`http://127.0.0.1:${nginx2.port}/`)).ips, [otherIp], 'include dir upstream works')
  writeFileSync(`${inc}/web.conf`, `upstream web { server ${ip}:80; }\n`)
  t.ok((await nginx2.test()).ok, 'nginx -t accepts the new config')
  await nginx2.reload()
  t.same((await identity(`http://127.0.0.1:${nginx2.port}/`)).ips, [ip], 'reload() applied the new upstream')
  writeFileSync(`${inc}/web.conf`, 'upstream web { nonsense; }\n')
  await t.rejects(nginx2.reload(), /rejected/, 'a rejected reload is reported')
  t.same((await identity(`http://127.0.0.1:${nginx2.port}/`)).ips, [ip], 'and the old config keeps serving')
  await nginx2.stop()

  await tb.stop('h1', web, 5)
  t.equal((await tb.inspect('h1', web)).State.Running, false, 'stop() stops the container')
  await tb.restartDockerd('h3')
  t.match(await tb.docker('h3')('info', '--format', '{{.ServerVersion}}'), /\d+\.\d+/, 'dockerd of h3 is back after a restart')

  await tb.teardown()
  await tb.teardown() // idempotent
  await nginx.stop()
  t.same(await testbedLeftovers(tb), [], 'nothing of the testbed is left')
  t.same(dirLeftovers(nginx.prefix), [], 'nothing of nginx is left')
})

t.test('two testbeds side by side do not collide', async (t) => {
  const [a, b] = await Promise.all([Testbed.create({ hosts: 1 }), Testbed.create({ hosts: 1 })])
  t.teardown(() => Promise.all([a.teardown(), b.teardown()]))
  t.not(a.id, b.id)
  t.not(a.subnet, b.subnet)
  const [ca, cb] = await Promise.all([a.run('h1'), b.run('h1')])
  t.same((await identity(`http://${await a.ipOf('h1', ca)}/`)).host, ca.slice(0, 12))
  t.same((await identity(`http://${await b.ipOf('h1', cb)}/`)).host, cb.slice(0, 12))
  await Promise.all([a.teardown(), b.teardown()])
  t.same([...(await testbedLeftovers(a)), ...(await testbedLeftovers(b))], [])
})

t.test('nats-server: start, JetStream, restart keeps the store, stop', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  let nc = await connect({ servers: nats.url })
  await (await nc.jetstreamManager()).streams.add({ name: 'HARNESS', subjects: ['harness.>'] })
  await nc.jetstream().publish('harness.x', new TextEncoder().encode('kept'))
  await nc.close()
  const pid = nats.pid
  await nats.restart()
  t.not(nats.pid, pid, 'a new process')
  nc = await connect({ servers: nats.url })
  const info = await (await nc.jetstreamManager()).streams.info('HARNESS')
  t.equal(info.state.messages, 1, 'same port, same store: the message survived')
  await nc.close()
  await nats.stop()
  t.same(dirLeftovers(nats.storeDir.replace(/\/n1\/store$/, '')), [], 'nothing left')
})

t.test('nats cluster of 3 elects a meta leader and survives a node restart', async (t) => {
  const cluster = await startNatsCluster(3)
  t.teardown(() => cluster.stop())
  t.ok(await cluster.metaLeader(), 'meta leader elected')
  const nc = await connect({ servers: cluster.urls })
  const jsm = await nc.jetstreamManager()
  await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 })
  await nc.jetstream().publish('r3.a', new TextEncoder().encode('1'))
  await cluster.nodes[0].restart()
  t.ok(await cluster.metaLeader(0), 'the restarted node sees a leader')
  // The stream may be electing a new leader if n1 led it: retry, bounded.
  const info = await waitFor(() => jsm.streams.info('R3'), { timeoutMs: 30_000, what: 'stream R3 info' })
  t.equal(info.state.messages, 1, 'replicated stream intact')
  await nc.close()
  await cluster.stop()
  t.same(dirLeftovers(cluster.nodes[0].storeDir.replace(/\/n1\/store$/, '')), [], 'nothing left')
})
