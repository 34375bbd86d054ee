// The MacVLAN shim's pure parts: names, routes, the desired-vs-actual plan,
// the namespace check, option parsing; and the container DNS stub's routing
// (domain names to the registry's DNS, others to the forwarder) against two
// real UDP resolvers on loopback.
import t from 'tap'
import { createSocket } from 'node:dgram'
import dnsPacket from 'dns-packet'
import { Registry } from 'prom-client'
import { pino } from 'pino'
import { rangeCidrs, shimContainerId, shimMac, shimName, shimRoutes, SHIM_NAME } from '../../src/agent/shim/naming.js'
import { decideShims, ipArgs, type ActualLink, type DesiredShim } from '../../src/agent/shim/plan.js'
import { dockerNamespaceProblem, listeningPaths } from '../../src/agent/shim/netns.js'
import { parseShimAddresses, shimAddress } from '../../src/agent/shim/address.js'
import { DnsStub, resolvConfServers } from '../../src/agent/dns/stub.js'
import { createOptions } from '../../src/agent/reconciler/container-spec.js'
import { resolveAgentConfig } from '../../src/agent/config.js'
import { checkServiceSpec, ConfigError } from '../../src/core/index.js'

t.test('names, MACs and ids are deterministic per (host, network) and fit the kernel', async (t) => {
  const n = shimName('h1', 'net-a')
  t.match(n, SHIM_NAME)
  t.ok(n.length <= 15, `${n} fits IFNAMSIZ`)
  t.equal(shimName('h1', 'net-a'), n, 'same on every call')
  t.not(shimName('h2', 'net-a'), n, 'another host, another name')
  t.match(shimMac('h1', 'net-a'), /^06(:[0-9a-f]{2}){5}$/, 'locally administered unicast')
  t.not(shimMac('h1', 'net-a'), shimMac('h1', 'net-b'))
  t.match(shimContainerId('h1', 'net-a'), /^[0-9a-f]{64}$/, 'looks like a Docker id (the IPAM schema takes it)')
})

t.test('routes: the container range as CIDRs, the whole subnet as two halves', async (t) => {
  t.same(rangeCidrs('10.240.1.64', '10.240.1.95'), ['10.240.1.64/27'])
  t.same(rangeCidrs('10.240.1.10', '10.240.1.20'), ['10.240.1.10/31', '10.240.1.12/30', '10.240.1.16/30', '10.240.1.20/32'])
  t.same(rangeCidrs('10.0.0.5', '10.0.0.4'), [], 'empty range')
  t.equal(rangeCidrs('10.0.0.0', '10.255.255.255', 3).length, 1, 'a /8 is one block')
  t.equal(rangeCidrs('10.0.0.1', '10.0.255.254', 5).length, 5, 'cut at max')
  t.same(shimRoutes('10.240.1.0/24', '10.240.1.64/27'), ['10.240.1.64/27'], 'docker --ip-range')
  t.same(shimRoutes('10.240.1.0/24', '10.240.1.100-10.240.1.103'), ['10.240.1.100/30'], 'pool start-end')
  t.same(shimRoutes('10.240.1.0/24'), ['10.240.1.0/25', '10.240.1.128/25'], 'no range: halves, more specific than the parent\'s connected /24')
  t.same(shimRoutes('bad'), [])
})

const want: DesiredShim = { name: 'dg-0123456789ab', parent: 'eth0', mac: '06:aa:bb:cc:dd:ee', address: '10.240.1.2', routes: ['10.240.1.64/27'] }
const good: ActualLink = { name: want.name, parent: 'eth0', mac: want.mac, mode: 'bridge', up: true, addresses: ['10.240.1.2/32'], routes: ['10.240.1.64/27'] }
const ops = (acts: ReturnType<typeof decideShims>): string[] => acts.map((a) => `${a.op}${'address' in a ? ' ' + a.address : ''}${'dst' in a ? ' ' + a.dst : ''}`)

t.test('decideShims: desired vs actual → steps', async (t) => {
  const create = ['add-link', 'set-up', 'add-addr 10.240.1.2/32', 'add-route 10.240.1.64/27']
  const table: Array<[string, ActualLink[], string[], Set<string>?]> = [
    ['missing: created, up before routes', [], create],
    ['in place: nothing', [good], []],
    ['down: up, and its routes again (the kernel dropped them)', [{ ...good, up: false }], ['set-up', 'add-route 10.240.1.64/27']],
    ['address removed by hand', [{ ...good, addresses: [] }], ['add-addr 10.240.1.2/32']],
    ['foreign address: removed', [{ ...good, addresses: ['10.240.1.2/32', '10.9.9.9/24'] }], ['del-addr 10.9.9.9/24']],
    ['route removed by hand', [{ ...good, routes: [] }], ['add-route 10.240.1.64/27']],
    ['stale route: removed', [{ ...good, routes: ['10.240.1.64/27', '10.240.1.0/28'] }], ['del-route 10.240.1.0/28']],
    ['host route without /32 is normalised', [{ ...good, routes: ['10.240.1.64/27', '10.240.1.7'] }], ['del-route 10.240.1.7/32']],
    ['wrong parent: recreated', [{ ...good, parent: 'eth1' }], ['del-link', ...create]],
    ['wrong mode: recreated', [{ ...good, mode: 'vepa' }], ['del-link', ...create]],
    ['wrong MAC: recreated', [{ ...good, mac: '06:00:00:00:00:01' }], ['del-link', ...create]],
    ['MAC case does not matter', [{ ...good, mac: want.mac.toUpperCase() }], []],
    ['a stale shim of ours: removed', [good, { ...good, name: 'dg-ffffffffffff' }], ['del-link'], new Set(['dg-ffffffffffff'])],
    ['a shim-like link we never made: left alone', [good, { ...good, name: 'dg-ffffffffffff' }], []],
    ['another macvlan: left alone', [good, { ...good, name: 'mv-other' }], [], new Set(['mv-other'])],
  ]
  for (const [name, actual, expected, owned] of table) t.same(ops(decideShims([want], actual, owned)), expected, name)
  t.same(ops(decideShims([], [good], new Set([good.name]))), ['del-link'], 'no network any more: removed')
})

t.test('ipArgs: iproute2 argv per step', async (t) => {
  t.same(ipArgs({ op: 'add-link', name: 'dg-x', parent: 'eth0', mac: '06:00:00:00:00:01' }),
    ['link', 'add', 'link', 'eth0', 'name', 'dg-x', 'address', '06:00:00:00:00:01', 'type', 'macvlan', 'mode', 'bridge'])
  t.same(ipArgs({ op: 'add-route', name: 'dg-x', dst: '10.0.0.0/27', src: '10.0.0.2' }), ['route', 'replace', '10.0.0.0/27', 'dev', 'dg-x', 'src', '10.0.0.2'])
  t.same(ipArgs({ op: 'add-addr', name: 'dg-x', address: '10.0.0.2/32' }), ['addr', 'add', '10.0.0.2/32', 'dev', 'dg-x'])
  t.same(ipArgs({ op: 'del-link', name: 'dg-x' }), ['link', 'del', 'dev', 'dg-x'])
})

t.test('the shim is made only where dockerd listens (its network namespace)', async (t) => {
  const proc = [
    'Num       RefCount Protocol Flags    Type St Inode Path',
    '0000000000000000: 00000002 00000000 00010000 0001 01 2269222 /run/docker.sock',
    '0000000000000000: 00000003 00000000 00000000 0001 03 2269223 /run/docker.sock',
    '0000000000000000: 00000002 00000000 00010000 0001 01 2269224 /tmp/with space.sock',
    '0000000000000000: 00000002 00000000 00000000 0002 01 2269225 /tmp/client-only.sock',
  ].join('\n')
  t.same([...listeningPaths(proc)], ['/run/docker.sock', '/tmp/with space.sock'])
  t.equal(dockerNamespaceProblem('/run/docker.sock', proc), null)
  t.match(dockerNamespaceProblem('/tmp/client-only.sock', proc), /does not listen in this agent's network namespace/)
  t.match(dockerNamespaceProblem(undefined, proc), /TCP/)
})

t.test('options: --shim-address, --dns-upstream/--dns-forward, resolv.conf', async (t) => {
  t.same([...parseShimAddresses(['mv0=10.240.1.2', 'a.b=10.0.0.3'])], [['mv0', '10.240.1.2'], ['a.b', '10.0.0.3']])
  t.throws(() => parseShimAddresses(['mv0=nope']), ConfigError)
  t.throws(() => parseShimAddresses(['=10.0.0.1']), ConfigError)
  const c = resolveAgentConfig({ hostId: 'h1' })
  t.match(c, { shim: true, shimAddress: [], dnsUpstream: [], dnsForward: [], dnsDomain: 'driftgate' }, 'defaults: shim on, no DNS stub')
  t.match(resolveAgentConfig({ hostId: 'h1', shim: false, dnsUpstream: ['10.0.0.1:8600'] }), { shim: false, dnsUpstream: ['10.0.0.1:8600'] })
  t.throws(() => resolveAgentConfig({ hostId: 'h1', dnsForward: ['300.1.1.1'] }), ConfigError, 'not an address')
  t.throws(() => resolveAgentConfig({ hostId: 'h1', shimAddress: ['mv0=1.2.3'] }), ConfigError)
  t.same(resolvConfServers('# x\nnameserver 10.0.0.53\nnameserver ::1\nsearch a\n  nameserver 1.1.1.1 \n'), ['10.0.0.53', '1.1.1.1'])
})

t.test('shim address: not our IPAM and no --shim-address → skipped with the reason; with it → that address and the ip-range', async (t) => {
  const n = { id: 'n1', name: 'mv0', parent: 'eth0', subnet: '10.240.1.0/24', ipRange: '10.240.1.64/27', ipamDriver: 'default' }
  const skip = await shimAddress({ host: 'h1', static: new Map() }, n)
  t.match(skip, { skip: /--shim-address mv0=<ip>/ })
  t.match(await shimAddress({ host: 'h1', static: new Map([['mv0', '10.240.1.2']]) }, n), { ip: '10.240.1.2', range: '10.240.1.64/27', pool: undefined })
  const calls: string[] = []
  const ipam = async (op: string, body: object): Promise<any> => {
    calls.push(`${op} ${JSON.stringify(body)}`)
    if (op === 'pool') return { ok: true, pool: { name: 'p1', start: '10.240.1.100', end: '10.240.1.199' } }
    if (op === 'allocate') return { ok: true, ip: '10.240.1.150', prefix: 24 }
    return { ok: true }
  }
  const got = await shimAddress({ host: 'h1', ipamDriverName: 'dg', ipam, static: new Map() }, { ...n, ipamDriver: 'dg' })
  t.match(got, { ip: '10.240.1.150', pool: 'p1', range: '10.240.1.100-10.240.1.199', mac: shimMac('h1', 'n1'), containerId: shimContainerId('h1', 'n1') })
  t.match(calls, [/^pool .*"subnet":"10.240.1.0\/24"/, new RegExp(`^allocate .*"mac":"${shimMac('h1', 'n1')}"`), new RegExp(`^bind .*"containerId":"${shimContainerId('h1', 'n1')}"`)],
    'allocated with the shim\'s MAC, bound to its pseudo container')
})

t.test('createOptions: the stub as resolver; spec dns: false validates', async (t) => {
  const spec = checkServiceSpec({ name: 'x', image: 'x:1', replicas: 1, port: 80, network: 'mv0' })
  const o = createOptions(spec, 0, 'a'.repeat(16), 0, { Dns: ['10.240.1.2'], DnsSearch: ['service.driftgate'] })
  t.same([o.HostConfig?.Dns, o.HostConfig?.DnsSearch], [['10.240.1.2'], ['service.driftgate']])
  t.equal(createOptions(spec, 0, 'a'.repeat(16)).HostConfig?.Dns, undefined, 'none given: Docker\'s default')
  t.equal(checkServiceSpec({ ...spec, dns: false }).dns, false)
  t.throws(() => checkServiceSpec({ ...spec, dns: 'no' }))
})

async function resolver (answer: (name: string) => string | null): Promise<{ port: number, names: string[], close: () => void }> {
  const sock = createSocket('udp4')
  const names: string[] = []
  sock.on('message', (msg, r) => {
    const q = dnsPacket.decode(msg)
    const name = q.questions?.[0]?.name ?? ''
    names.push(name)
    const ip = answer(name)
    sock.send(dnsPacket.encode({
      id: q.id, type: 'response', flags: ip === null ? 3 : 0, questions: q.questions,
      answers: ip === null ? [] : [{ type: 'A', name, ttl: 0, data: ip }],
    }), r.port, r.address)
  })
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  return { port: sock.address().port, names, close: () => sock.close() }
}

interface Reply { id?: number, rcode?: string, answers?: Array<{ data?: unknown }> }

async function ask (port: number, name: string): Promise<Reply> {
  const sock = createSocket('udp4')
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), 3000)
      sock.on('message', (m) => { clearTimeout(timer); resolve(dnsPacket.decode(m) as Reply) })
      sock.send(dnsPacket.encode({ id: 7, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), port, '127.0.0.1')
    })
  } finally { sock.close() }
}

t.test('DNS stub: domain names to the registry, others forwarded, nothing else answered', async (t) => {
  const registry = await resolver((n) => n === 'api.service.driftgate' ? '10.240.1.70' : null)
  const outside = await resolver((n) => n === 'outside.test' ? '10.240.1.200' : null)
  t.teardown(() => { registry.close(); outside.close() })
  const at = await freeUdpPort()
  const stub = new DnsStub({ domain: 'driftgate', upstream: [`127.0.0.1:${registry.port}`], forward: [`127.0.0.1:${outside.port}`], log: pino({ level: 'silent' }), metrics: new Registry(), port: at })
  t.teardown(async () => await stub.close())
  await stub.listen(['127.0.0.1'])
  const a = await ask(at, 'api.service.driftgate')
  t.same(a.answers?.map((x) => x.data), ['10.240.1.70'], 'a service name from the registry\'s DNS')
  t.equal(a.id, 7, 'the client\'s id')
  const b = await ask(at, 'outside.test')
  t.same(b.answers?.map((x) => x.data), ['10.240.1.200'], 'an outside name from the forwarder')
  t.equal((await ask(at, 'nope.service.driftgate')).rcode, 'NXDOMAIN')
  t.same(registry.names, ['api.service.driftgate', 'nope.service.driftgate'], 'the registry saw only its zone')
  t.same(outside.names, ['outside.test'], 'the forwarder saw only the outside name')
  await stub.listen([])
  t.same(stub.addresses, [], 'stops listening on an address that went away')
  const none = new DnsStub({ domain: 'driftgate', upstream: [`127.0.0.1:${registry.port}`], forward: [], log: pino({ level: 'silent' }), metrics: new Registry() })
  const reply = dnsPacket.decode(await none.respond(dnsPacket.encode({ id: 9, type: 'query', questions: [{ type: 'A', name: 'outside.test' }] }), false) as Buffer)
  t.equal((reply as Reply).rcode, 'REFUSED', 'no forwarder: outside names REFUSED')
  await none.close()
})

async function freeUdpPort (): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  const p = s.address().port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return p
}
