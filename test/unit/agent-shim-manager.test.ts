// ShimManager against a fake kernel (an `ip` that keeps links, addresses and
// routes in memory and prints them as `ip -j` does) and a fake Docker
// network list: the orchestration (create, idempotent re-check, repair,
// networks coming and going, IPAM allocate/bind/release, close). The real
// iproute2 is exercised by test/e2e/shim.test.ts.
import t from 'tap'
import type Dockerode from 'dockerode'
import { Registry } from 'prom-client'
import { pino } from 'pino'
import { ShimManager } from '../../src/agent/shim/manager.js'
import { shimContainerId, shimName } from '../../src/agent/shim/naming.js'

interface Link { name: string, parent: string, mac: string, up: boolean, addrs: string[] }

class FakeIp {
  links = new Map<string, Link>()
  routes: Array<{ dst: string, dev: string }> = []
  calls: string[] = []
  run = async (a: string[]): Promise<string> => {
    const cmd = a.join(' ')
    if (cmd === '-j -d link show type macvlan') {
      return JSON.stringify([...this.links.values()].map((l) => ({ ifname: l.name, link: l.parent, address: l.mac, flags: l.up ? ['UP'] : [], linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } } })))
    }
    if (cmd === '-j -4 addr show') return JSON.stringify([...this.links.values()].map((l) => ({ ifname: l.name, addr_info: l.addrs.map((x) => ({ family: 'inet', local: x.split('/')[0], prefixlen: Number(x.split('/')[1]) })) })))
    if (cmd === '-j -4 route show') return JSON.stringify(this.routes.map((r) => ({ dst: r.dst.endsWith('/32') ? r.dst.slice(0, -3) : r.dst, dev: r.dev })))
    this.calls.push(cmd)
    const dev = (name: string): Link => { const l = this.links.get(name); if (l === undefined) throw new Error(`Cannot find device "${name}"`); return l }
    if (a[0] === 'link' && a[1] === 'add') this.links.set(a[5], { name: a[5], parent: a[3], mac: a[7], up: false, addrs: [] })
    else if (a[0] === 'link' && a[1] === 'del') { dev(a[3]); this.links.delete(a[3]); this.routes = this.routes.filter((r) => r.dev !== a[3]) }
    else if (a[0] === 'link' && a[1] === 'set') dev(a[3]).up = true
    else if (a[0] === 'addr' && a[1] === 'add') dev(a[4]).addrs.push(a[2])
    else if (a[0] === 'route' && a[1] === 'replace') { dev(a[4]); this.routes = [...this.routes.filter((r) => r.dst !== a[2]), { dst: a[2], dev: a[4] }] }
    else throw new Error(`fake ip: ${cmd}`)
    return ''
  }
}

const net = (id: string, name: string, ipam: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ Id: id, Name: name, Driver: 'macvlan', Options: { parent: 'eth0' }, IPAM: { Driver: ipam, Config: [{ Subnet: '10.240.1.0/24', ...extra }] } })

function setup (): { ip: FakeIp, nets: Array<Record<string, unknown>>, ipamCalls: string[], seen: Array<string[]>, warnings: string[], m: ShimManager } {
  const ip = new FakeIp()
  const nets = [net('n-static', 'mv0', 'default', { IPRange: '10.240.1.64/27' }), net('n-ours', 'dgnet', 'dg'), net('n-other', 'other', 'default')]
  const ipamCalls: string[] = []
  const seen: Array<string[]> = []
  const warnings: string[] = []
  const docker = { listNetworks: async () => nets } as unknown as Dockerode
  const log = pino({ level: 'warn' }, { write: (s: string) => { warnings.push(s) } })
  const m = new ShimManager({
    docker, log, metrics: new Registry(), intervalMs: 60_000, ip: ip.run,
    address: {
      host: 'h1', ipamDriverName: 'dg', static: new Map([['mv0', '10.240.1.2']]),
      ipam: async (op, body) => {
        ipamCalls.push(op)
        if (op === 'pool') return { ok: true, pool: { name: 'p', start: '10.240.1.100', end: '10.240.1.131' } as never }
        if (op === 'allocate') return { ok: true, ip: '10.240.1.120', prefix: 24 }
        void body
        return { ok: true }
      },
    },
    onAddresses: (a) => { seen.push([...a].map(([k, v]) => `${k}=${v}`)) },
  })
  return { ip, nets, ipamCalls, seen, warnings, m }
}

t.test('creates, keeps, repairs and removes shims', async (t) => {
  const { ip, nets, ipamCalls, seen, warnings, m } = setup()
  await m.start()
  t.teardown(async () => await m.close())
  const s1 = shimName('h1', 'n-static')
  const s2 = shimName('h1', 'n-ours')
  t.same([...ip.links.keys()].sort(), [s1, s2].sort(), 'one shim per network with an address; none for "other"')
  t.same(ip.links.get(s1)?.addrs, ['10.240.1.2/32'], '--shim-address')
  t.same(ip.links.get(s2)?.addrs, ['10.240.1.120/32'], 'from IPAM')
  t.same(ip.routes.filter((r) => r.dev === s1).map((r) => r.dst), ['10.240.1.64/27'], 'docker --ip-range routed')
  t.same(ip.routes.filter((r) => r.dev === s2).map((r) => r.dst), ['10.240.1.100/30', '10.240.1.104/29', '10.240.1.112/28', '10.240.1.128/30'], 'the pool range routed')
  t.same(ipamCalls, ['pool', 'allocate', 'bind'])
  t.same(m.containerIds(), [shimContainerId('h1', 'n-ours')], 'only the IPAM-held address is listed in snapshots')
  t.same(seen.at(-1), ['mv0=10.240.1.2', 'dgnet=10.240.1.120'])
  t.equal(m.addressOf('dgnet'), '10.240.1.120')
  t.equal(warnings.filter((w) => w.includes('--shim-address other=<ip>')).length, 1, '"other" is skipped with the option to use')

  ip.calls = []
  await m.check()
  t.same(ip.calls, [], 'a second check changes nothing')
  t.same(ipamCalls, ['pool', 'allocate', 'bind'], 'and asks IPAM nothing')
  t.equal(warnings.filter((w) => w.includes('--shim-address other=<ip>')).length, 1, 'warned once')

  ip.links.delete(s2)
  ip.routes = ip.routes.filter((r) => r.dev !== s2 && r.dst !== '10.240.1.64/27')
  await m.check()
  t.same(ip.calls.filter((c) => c.startsWith('link add')).length, 1, 'the deleted shim is made again')
  t.same(ip.links.get(s2)?.addrs, ['10.240.1.120/32'], 'with the same address')
  t.ok(ip.routes.some((r) => r.dev === s1 && r.dst === '10.240.1.64/27'), 'a route deleted by hand is back')

  nets.splice(1, 1) // dgnet removed from Docker
  ip.calls = []
  await m.check()
  t.same(ip.calls, [`link del dev ${s2}`], 'its shim is removed')
  t.same(ipamCalls.at(-1), 'release', 'and its address released')
  t.same(m.containerIds(), [])

  await m.close()
  t.same(ip.links.size, 0, 'close removes every shim')
  await m.close()
})

t.test('an IPAM failure is retried at the next check, not fatal', async (t) => {
  const { ip, m } = setup()
  let fail = true
  const o = (m as unknown as { o: { address: { ipam: (op: string, b: object) => Promise<unknown> } } }).o
  const real = o.address.ipam
  o.address.ipam = async (op, b) => { if (fail) throw new Error('registry unreachable'); return await real(op, b) }
  await m.start()
  t.teardown(async () => await m.close())
  t.same([...ip.links.keys()], [shimName('h1', 'n-static')], 'the other shims are made meanwhile')
  fail = false
  await m.check()
  t.ok(ip.links.has(shimName('h1', 'n-ours')), 'the IPAM one follows once the registry answers')
})
