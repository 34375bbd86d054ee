import t from 'tap'
import dnsPacket from 'dns-packet'
import { Registry } from 'prom-client'
import { DnsServer } from '../../src/registry/lookup/dns/server.js'
import { cacheKey } from '../../src/registry/lookup/dns/cache.js'
import { silentLogger } from '../../src/core/index.js'
import { fakeView, ep, putEp } from './lookup-fixtures.js'

function setup () {
  const { view, t: tb } = fakeView()
  putEp(tb, ep('web', '10.240.0.1'))
  putEp(tb, ep('web', '10.240.0.2'))
  putEp(tb, ep('web', '10.240.0.3'))
  const srv = new DnsServer({ view, log: silentLogger(), metrics: new Registry(), port: 0, domain: 'driftgate', ttl: 0, forward: [] })
  return { view, tb, srv }
}

const q = (name: string, id = 1, type: 'A' | 'SRV' = 'A', edns = false): Buffer => dnsPacket.encode({
  id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }],
  additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as never] : [],
})
const ips = (b: Buffer): string[] => (dnsPacket.decode(b).answers ?? []).map((a) => (a as { data: string }).data)

t.test('cached answers keep rotating, carry the asker\'s id and case, and match the slow path', async (t) => {
  const { srv } = setup()
  const seen: string[][] = []
  for (let i = 0; i < 6; i++) {
    const reply = srv.respond(q('web.service.driftgate', 100 + i), false) as Buffer
    const d = dnsPacket.decode(reply)
    t.equal(d.id, 100 + i)
    t.equal(d.questions?.[0].name, 'web.service.driftgate')
    seen.push(ips(reply))
  }
  t.ok(srv.cache.hits >= 5, `hits ${srv.cache.hits}`)
  for (const s of seen) t.same([...s].sort(), ['10.240.0.1', '10.240.0.2', '10.240.0.3'])
  t.same(new Set(seen.map((s) => s[0])).size, 3, 'every address comes first in turn')
  const upper = dnsPacket.decode(srv.respond(q('WEB.service.driftgate', 9), false) as Buffer)
  t.equal(upper.questions?.[0].name, 'WEB.service.driftgate', 'case echoed (separate entry)')
  const e = dnsPacket.decode(srv.respond(q('web.service.driftgate', 9, 'A', true), false) as Buffer)
  t.ok(e.additionals?.some((a) => a.type === 'OPT'), 'EDNS queries get their own entry with OPT')
})

t.test('any change to the view empties the cache', async (t) => {
  const { srv, tb } = setup()
  srv.respond(q('web.service.driftgate'), false)
  srv.respond(q('web.service.driftgate'), false)
  putEp(tb, ep('web', '10.240.0.4'))
  t.equal(ips(srv.respond(q('web.service.driftgate'), false) as Buffer).length, 4)
  putEp(tb, ep('other', '10.240.0.9'))
  t.equal(ips(srv.respond(q('web.service.driftgate'), false) as Buffer).length, 4)
  const nx = dnsPacket.decode(srv.respond(q('new.service.driftgate'), false) as Buffer)
  t.equal((nx as { rcode?: string }).rcode, 'NXDOMAIN')
  putEp(tb, ep('new', '10.240.0.10'))
  t.same(ips(srv.respond(q('new.service.driftgate'), false) as Buffer), ['10.240.0.10'], 'negative answer not kept')
})

t.test('SRV and truncated answers are never cached; odd queries take the normal path', async (t) => {
  const { srv, tb } = setup()
  for (let i = 0; i < 3; i++) srv.respond(q('web.service.driftgate', i, 'SRV'), false)
  t.equal(srv.cache.hits, 0)
  for (let i = 0; i < 60; i++) putEp(tb, ep('big', `10.240.1.${i + 1}`))
  for (let i = 0; i < 3; i++) {
    const d = dnsPacket.decode(srv.respond(q('big.service.driftgate', i), false) as Buffer)
    t.equal(d.flag_tc, true)
  }
  t.equal(srv.cache.hits, 0)
  const two = dnsPacket.encode({ id: 1, type: 'query', questions: [{ name: 'a.driftgate', type: 'A' }, { name: 'b.driftgate', type: 'A' }] })
  t.equal(cacheKey(two, false), null)
  const ptr = Buffer.concat([q('web.service.driftgate').subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])])
  t.equal(cacheKey(ptr, false), null)
  t.equal(cacheKey(Buffer.alloc(5), false), null)
})
