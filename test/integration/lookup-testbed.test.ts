// A container on the testbed uses the registry's DNS as its only resolver
// (`docker run --dns <bridge address>`): it resolves <service>.service.driftgate
// to the right IPs, and an outside name through forwarding. The lookup DNS
// listens on the testbed bridge address, port 53, in the root namespace.
import t from 'tap'
import { Testbed } from '../harness/index.js'
import { startStack, endpoint, fakeResolver, type Stack } from './lookup-setup.js'

let tb: Testbed | undefined
let s: Stack | undefined
let upstream: Awaited<ReturnType<typeof fakeResolver>> | undefined

t.teardown(async () => {
  await s?.close()
  await upstream?.close()
  await tb?.teardown()
})

t.test('a testbed container resolves services and outside names through driftgate', async (t) => {
  tb = await Testbed.create({ hosts: 1, name: 'lookup-dns' })
  upstream = await fakeResolver({ 'outside.example.test': '192.0.2.77' })
  // Containers sit in the testbed subnet: allow it to use forwarding (the default is loopback + IPAM pools).
  s = await startStack({ dnsHost: tb.gateway, dnsPort: 53, dnsForward: [`127.0.0.1:${upstream.port}`], dnsForwardAllow: ['loopback', tb.subnet] })
  t.equal(s.lookup.dnsPort, 53)

  // Two "web" containers whose addresses driftgate publishes, and a client that asks.
  const webs = [await tb.run('h1'), await tb.run('h1')]
  const ips = await Promise.all(webs.map((id) => tb!.ipOf('h1', id)))
  for (const [i, id] of webs.entries()) {
    await s.putEndpoint(endpoint('web', ips[i], { containerId: id, host: 'h1' }))
  }
  const client = await tb.run('h1', { args: ['--dns', tb.gateway] })

  const ask = async (name: string): Promise<string[]> => {
    const out = await tb!.cli('h1').exec(client, ['nslookup', '-type=a', name]).catch((e: Error) => e.message)
    // Skip the "Server:/Address:" header: answers come after the first blank line.
    const body = out.split(/\n\s*\n/).slice(1).join('\n')
    return [...body.matchAll(/Address:\s*([0-9.]+)/g)].map((m) => m[1]).sort()
  }
  t.same(await ask('web.service.driftgate'), [...ips].sort(), 'service resolves to both containers')
  t.same(await ask('outside.example.test'), ['192.0.2.77'], 'outside name forwarded')
  t.ok(upstream.queries >= 1)
  const nx = await tb.cli('h1').exec(client, ['nslookup', '-type=a', 'nope.service.driftgate']).then(() => 'resolved', () => 'failed')
  t.equal(nx, 'failed', 'unknown service does not resolve (nslookup exits 1)')

  // An address change shows up on the next lookup (TTL 0).
  await s.putEndpoint(endpoint('web', ips[0], { containerId: webs[0], host: 'h1', state: 'draining' }))
  await new Promise((r) => setTimeout(r, 100))
  t.same(await ask('web.service.driftgate'), [ips[1]], 'draining endpoint left the answer')
})
