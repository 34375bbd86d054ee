// Pure pieces of the lookup hardening (issue 15): the per-client DNS token
// bucket, CIDR allow lists, parked-query caps, cutting forwarded replies,
// env redaction, and the new config checks.
import t from 'tap'
import dnsPacket from 'dns-packet'
import { Registry } from 'prom-client'
import { silentLogger } from '../../src/core/index.js'
import { ClientRateLimit } from '../../src/dns/index.js'
import { ForwardAllow, parseCidr, forwardAllowProblems } from '../../src/registry/lookup/dns/allow.js'
import { fitForwarded, udpLimit } from '../../src/dns/index.js'
import { WaiterLimits } from '../../src/registry/lookup/limits.js'
import { redactSpec } from '../../src/registry/lookup/routes/services.js'
import { checkLookupConfig } from '../../src/registry/lookup/index.js'

t.test('token bucket per client: burst, refill, off, bounded map', async (t) => {
  let now = 1000
  const r = new ClientRateLimit({ rate: 10, burst: 5, now: () => now, maxClients: 3 })
  const takes = (n: number, ip = 'a'): number => { let ok = 0; for (let i = 0; i < n; i++) if (r.take(ip)) ok++; return ok }
  t.equal(takes(20), 5, 'burst')
  now += 100
  t.equal(takes(20), 1, '10/s refills one per 100 ms')
  now += 10_000
  t.equal(takes(20), 5, 'refill capped at the burst')
  t.equal(takes(3, 'b'), 3, 'clients are independent')
  takes(1, 'c'); takes(1, 'd')
  t.ok(r.clients <= 3, 'map bounded')
  const off = new ClientRateLimit({ rate: 0, burst: 1 })
  t.equal(off.enabled, false)
  let all = 0
  for (let i = 0; i < 1000; i++) if (off.take('x')) all++
  t.equal(all, 1000)
})

t.test('CIDR parsing and the allow list', async (t) => {
  t.same(parseCidr('10.240.1.7/24'), { base: ((10 << 24) | (240 << 16) | (1 << 8)) >>> 0, mask: 0xffffff00 })
  t.same(parseCidr('0.0.0.0/0'), { base: 0, mask: 0 })
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'x', '', '::1/128']) t.equal(parseCidr(bad), null, bad)
  t.same(forwardAllowProblems(['loopback', 'pools', '10.0.0.0/8', 'nope']).map((p) => p.field), ['dnsForwardAllow'])
  const a = new ForwardAllow(['loopback', '10.240.3.0/24', '192.0.2.9'], undefined, silentLogger())
  t.ok(a.allows('127.0.0.1'))
  t.ok(a.allows('127.9.9.9'))
  t.ok(a.allows('::ffff:127.0.0.1'), 'v4-mapped')
  t.ok(a.allows('10.240.3.200'))
  t.notOk(a.allows('10.240.4.1'))
  t.ok(a.allows('192.0.2.9'))
  t.notOk(a.allows('192.0.2.10'))
  t.notOk(a.allows('::1'), 'IPv6 is not in an IPv4 list')
  t.notOk(new ForwardAllow([], undefined, silentLogger()).allows('127.0.0.1'), 'empty list: nobody')
  t.throws(() => new ForwardAllow(['10.0.0.0/99'], undefined, silentLogger()), { code: 'DG_CONFIG_INVALID' })
})

t.test('parked-query caps: per client, global, idempotent release', async (t) => {
  const metrics = new Registry()
  const l = new WaiterLimits({ global: 3, perClient: 2, metrics })
  const a1 = l.acquire('a')
  l.acquire('a')
  t.throws(() => l.acquire('a'), { code: 'DG_TOO_MANY_REQUESTS', message: /from a \(limit 2\)/ })
  const b1 = l.acquire('b')
  t.throws(() => l.acquire('c'), { code: 'DG_TOO_MANY_REQUESTS', message: /on this registry \(limit 3\)/ })
  a1(); a1()
  t.equal(l.parked, 2, 'a second release changes nothing')
  l.acquire('c')
  b1()
  t.match(await metrics.metrics(), /driftgate_lookup_blocking_refused_total\{scope="client"\} 1[\s\S]*scope="global"\} 1/)
})

t.test('forwarded replies are cut to the client limit', async (t) => {
  const query = { id: 42, type: 'query' as const, questions: [{ name: 'x.example.test', type: 'A' as const }] }
  const big = dnsPacket.encode({
    id: 999, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions: query.questions,
    answers: Array.from({ length: 100 }, (_, i) => ({ type: 'A' as const, name: 'x.example.test', ttl: 5, data: `192.0.2.${i + 1}` })),
  })
  t.ok(big.length > 2000)
  const cut = fitForwarded(big, udpLimit(query), query)
  t.ok(cut.length <= 512)
  const d = dnsPacket.decode(cut)
  t.equal(d.id, 42)
  t.equal(d.flag_tc, true)
  t.ok((d.answers ?? []).length > 0, 'answers that fit are kept')
  const small = dnsPacket.encode({ id: 42, type: 'response', questions: query.questions, answers: [] })
  t.equal(fitForwarded(small, 512, query), small, 'a reply that fits is relayed as is')
  const junk = Buffer.concat([big.subarray(0, 12), Buffer.alloc(1000, 0xff)])
  const sf = fitForwarded(junk, 512, query)
  t.ok(sf.length <= 512)
  t.equal(sf[3] & 0x0f, 2, 'undecodable oversize reply: SERVFAIL')
})

t.test('env values redacted, keys kept, other fields untouched', async (t) => {
  const spec = { name: 'web', image: 'i', env: { A: 'secret', B: '' } }
  t.same(redactSpec(spec), { name: 'web', image: 'i', env: { A: '<hidden>', B: '<hidden>' } })
  t.equal(spec.env.A, 'secret', 'the stored spec is not mutated')
  const noEnv = { name: 'web' } as { name: string, env?: Record<string, string> }
  t.equal(redactSpec(noEnv), noEnv)
})

t.test('new config checks name their fields', async (t) => {
  t.doesNotThrow(() => checkLookupConfig({ httpPort: 0, dnsPort: 0, dnsForwardAllow: ['loopback', 'pools', '10.0.0.0/8'], dnsUdpMax: 1232, dnsRateLimit: 0 }))
  try {
    checkLookupConfig({ httpPort: 0, dnsPort: 0, dnsForwardAllow: ['everyone'], dnsUdpMax: 100, dnsRateBurst: 0, maxBlockingQueries: 0, httpRequestTimeoutMs: 1.5 })
    t.fail('should throw')
  } catch (err) {
    t.same((err as { problems: Array<{ field: string }> }).problems.map((p) => p.field),
      ['dnsForwardAllow', 'dnsUdpMax', 'dnsRateBurst', 'maxBlockingQueries', 'httpRequestTimeoutMs'])
  }
})
