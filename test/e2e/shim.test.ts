// Issue 19 on a real testbed host: `driftgate up` runs INSIDE the host's
// network namespace (its nats-server, registry, agent, renderer and nginx
// too), next to its dockerd, with a MacVLAN network served by driftgate IPAM.
// - the agent makes the shim (an IPAM address, routes to the pool), so that
//   nginx on the host serves the host's own containers; through the parent
//   (curl --interface eth0) the same container is unreachable;
// - a shim deleted by hand is back within one resync (2 s here), and nginx
//   serves again;
// - a replica placement started resolves another service by name (the
//   search domain too) and an outside name (forwarded to a tiny resolver on
//   the testbed's LAN gateway: never the real internet);
// - SIGTERM: the shim is removed.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { request } from 'node:http'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import dnsPacket from 'dns-packet'
import { Testbed, TEST_IMAGE, cliArgs, waitFor } from '../harness/index.js'
import { projectRoot } from '../../src/cli/version.js'
import { cleanupPrevious } from '../../src/up/index.js'

const root = projectRoot()
const cli = cliArgs()
const env = { ...process.env, NODE_OPTIONS: '', DRIFTGATE_API: undefined, DRIFTGATE_NATS: undefined }
const OUTSIDE = '192.0.2.123' // TEST-NET-1: only ever an answer, never contacted
const RESYNC_MS = 2000

/** A resolver on the LAN gateway that knows one outside name. */
async function outsideResolver (address: string): Promise<{ port: number, close: () => void }> {
  const sock = createSocket('udp4')
  sock.on('message', (msg, r) => {
    try {
      const q = dnsPacket.decode(msg)
      const qn = q.questions?.[0]
      const hit = qn?.name === 'outside.test' && qn.type === 'A'
      sock.send(dnsPacket.encode({
        id: q.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (qn?.name === 'outside.test' ? 0 : 3),
        questions: q.questions, answers: hit ? [{ type: 'A', name: 'outside.test', ttl: 5, data: OUTSIDE }] : [],
      }), r.port, r.address)
    } catch { /* not a query */ }
  })
  await new Promise<void>((resolve) => sock.bind(0, address, resolve))
  return { port: sock.address().port, close: () => sock.close() }
}

t.test('up in a testbed host\'s namespace: the shim serves its own containers, is repaired, and containers resolve names', async (t) => {
  const t0 = Date.now()
  const tb = await Testbed.create({ hosts: 1, network: false, name: 'shim' })
  t.teardown(async () => await tb.teardown())
  const h = tb.hosts[0]
  const data = mkdtempSync(join(tmpdir(), 'dg-shim-'))
  const driver = `dg-shim-${tb.id}`
  const socket = `/run/docker/plugins/${driver}.sock`
  t.teardown(async () => { await cleanupPrevious(data); rmSync(data, { recursive: true, force: true }); rmSync(socket, { force: true }) })
  const dns = await outsideResolver(tb.gateway)
  t.teardown(() => dns.close())
  const prefix = tb.subnet.split('.').slice(0, 3).join('.')
  const api = `http://${h.address}:7070`

  // Everything of `up` in the host's namespace, listening on the host's LAN address (so this test reaches it).
  const child: ChildProcess = spawn('ip', ['netns', 'exec', h.ns, process.execPath, ...cli, 'up', '--data', data, '--docker', h.socketPath,
    '--ipam-driver-name', driver, '--bind', h.address, '--host-id', 'h1', '--dns-forward', `${tb.gateway}:${dns.port}`,
    '--resync-interval', `${RESYNC_MS}ms`], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  await waitFor(() => out.includes('Press Ctrl-C') || child.exitCode !== null, { timeoutMs: 60_000, what: 'driftgate up in the namespace' })
  if (child.exitCode !== null) { t.fail(`up exited: ${out}`); return }
  const token = readFileSync(join(data, 'api-token'), 'utf8').trim()
  const put = async (path: string, body: unknown): Promise<number> => (await fetch(`${api}${path}`, {
    method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  })).status

  // A MacVLAN network on driftgate IPAM: the pool covers .64-.95, the shim's address comes from it too.
  t.equal(await put('/v1/ipam/pools/lan', { subnet: tb.subnet, range: `${prefix}.64-${prefix}.95`, gateway: tb.gateway }), 201, 'pool created')
  await tb.docker(h)('network', 'create', '-d', 'macvlan', '--ipam-driver', driver, '--subnet', tb.subnet, '--gateway', tb.gateway, '-o', 'parent=eth0', 'dgnet')
  for (const name of ['api', 'client']) {
    t.ok([200, 201].includes(await put(`/v1/services/${name}`, { name, image: TEST_IMAGE, replicas: 1, port: 80, network: 'dgnet' })), `service ${name} applied`)
  }

  const shim = async (): Promise<{ name: string, addr?: string, routes: string[] } | undefined> => {
    const links = JSON.parse(await tb.exec(h, ['ip', '-j', '-d', 'link', 'show', 'type', 'macvlan'])) as Array<{ ifname: string, link?: string, linkinfo?: { info_data?: { mode?: string } } }>
    const l = links.find((x) => /^dg-[0-9a-f]{12}$/.test(x.ifname) && x.link === 'eth0' && x.linkinfo?.info_data?.mode === 'bridge')
    if (l === undefined) return undefined
    const addrs = JSON.parse(await tb.exec(h, ['ip', '-j', '-4', 'addr', 'show', 'dev', l.ifname])) as Array<{ addr_info: Array<{ local: string }> }>
    const routes = JSON.parse(await tb.exec(h, ['ip', '-j', '-4', 'route', 'show', 'dev', l.ifname])) as Array<{ dst: string }>
    return { name: l.ifname, addr: addrs[0]?.addr_info[0]?.local, routes: routes.map((r) => r.dst) }
  }
  const s = await waitFor(async () => { const x = await shim(); return x?.addr !== undefined && x.routes.length > 0 ? x : undefined }, { timeoutMs: 15_000, what: 'the shim' })
  t.match(s.addr, new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(6[4-9]|[78]\\d|9[0-5])$`), `shim ${s.name} has ${s.addr ?? '?'}, from the pool`)
  t.same(s.routes, [`${prefix}.64/27`], 'the pool range is routed through it')
  const pool = await (await fetch(`${api}/v1/ipam/pools/lan/addresses`, { headers: { authorization: `Bearer ${token}` } })).json() as { addresses: Array<{ ip: string, state: string, owner: { host: string, container?: string } }> }
  t.match(pool.addresses.find((a) => a.ip === s.addr), { state: 'bound', owner: { host: 'h1' } }, 'IPAM holds the shim\'s address (bound, never handed to a container)')

  const ps = async (svc: string): Promise<string> => await waitFor(async () => (await tb.docker(h)('ps', '-q', '--filter', `label=driftgate.service=${svc}`, '--filter', 'status=running')).split('\n')[0] || undefined,
    { timeoutMs: 30_000, what: `a running ${svc} replica` })
  const [apiId, clientId] = await Promise.all([ps('api'), ps('client')])
  const apiIp = await tb.ipOf(h, apiId, 'dgnet')
  const viaNginx = async (): Promise<string | undefined> => await new Promise((resolve) => {
    // node:http, not fetch: fetch does not send a Host header of ours.
    const req = request({ host: h.address, port: 8080, path: '/', headers: { host: 'api' }, agent: false, timeout: 3000 }, (res) => {
      let b = ''
      res.setEncoding('utf8').on('data', (c: string) => { b += c }).on('end', () => resolve(res.statusCode === 200 ? b : undefined))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(undefined))
    req.end()
  })
  const body = await waitFor(viaNginx, { timeoutMs: 20_000, what: 'nginx on the host serving api' })
  t.same(JSON.parse(body).ips, [apiIp], `nginx in the host's namespace answers from its own container ${apiIp}`)
  const parent = await tb.exec(h, `curl -s -o /dev/null -w '%{http_code}' --max-time 2 --interface eth0 http://${apiIp}/ || true`)
  t.equal(parent.trim(), '000', 'through the parent alone (no shim), the same container is unreachable')

  // Containers: resolver is the stub on the shim; names of the zone and outside names resolve.
  const inspect = await tb.inspect(h, clientId)
  t.same([inspect.HostConfig.Dns, inspect.HostConfig.DnsSearch], [[s.addr], ['service.driftgate']], 'the replica\'s resolver is the stub on the shim')
  const exec = async (...cmd: string[]): Promise<string> => await tb.docker(h)('exec', clientId, ...cmd).catch((e: Error) => `failed: ${e.message}`)
  t.match(await exec('nslookup', 'api.service.driftgate'), new RegExp(`Address:\\s*${apiIp.replace(/\./g, '\\.')}`), 'api.service.driftgate resolves to the api replica')
  t.match(await exec('nslookup', 'outside.test'), new RegExp(`Address:\\s*${OUTSIDE.replace(/\./g, '\\.')}`), 'an outside name resolves through the forwarder on the LAN')
  t.match(await exec('wget', '-q', '-O', '-', 'http://api.service.driftgate/'), new RegExp(apiIp.replace(/\./g, '\\.')), 'wget http://api.service.driftgate/ from a container')
  t.match(await exec('wget', '-q', '-O', '-', 'http://api/'), new RegExp(apiIp.replace(/\./g, '\\.')), 'and http://api/ through the search domain')

  // Deleted by hand: back within one resync, and nginx serves again.
  const t1 = Date.now()
  await tb.exec(h, ['ip', 'link', 'del', 'dev', s.name])
  const back = await waitFor(async () => { const x = await shim(); return x !== undefined && x.addr === s.addr && x.routes.length > 0 ? x : undefined }, { timeoutMs: 3 * RESYNC_MS, intervalMs: 50, what: 'the shim repaired' })
  const repairedMs = Date.now() - t1
  t.equal(back.name, s.name, 'same name')
  // The next check after the deletion repairs it: one interval, plus that check's own run time (a few ip calls; longer on a loaded CI machine).
  t.ok(repairedMs <= RESYNC_MS + 2000, `repaired in ${repairedMs} ms (resync ${RESYNC_MS} ms)`)
  t.ok(await waitFor(viaNginx, { timeoutMs: 5000, what: 'nginx serving again' }), 'nginx serves its own container again')
  t.match(await (await fetch(`${api}/metrics`)).text(), /driftgate_agent_shim_steps_total\{op="add-link"[^}]*\} 2\b/, 'two link creations counted')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'up stops on SIGTERM')
  t.equal(await shim(), undefined, 'the shim is removed on a clean shutdown')
  t.notOk(existsSync(socket), 'no IPAM driver socket left')
  const log = readFileSync(join(data, 'logs', 'driftgate.log'), 'utf8')
  t.notMatch(log, /close step abandoned|shim not removed|shim address not released/, 'every close step done in time, the shim\'s address released')
  t.comment(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`)
})
