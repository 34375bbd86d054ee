import t from 'tap'
import dnsPacket, { type Packet, type Question } from 'dns-packet'
import { answerQuery, type AnswerConfig } from '../../src/registry/lookup/dns/answer.js'
import { Rcode } from '../../src/dns/index.js'
import { decodeQuery, encodeFit, udpLimit } from '../../src/dns/index.js'
import { fakeView, ep, putEp, serviceRec } from './lookup-fixtures.js'

const cfg: AnswerConfig = { domain: 'driftgate', ttl: 0, forwarding: true }

function ask (view: Parameters<typeof answerQuery>[1], name: string, type: string, extra: Partial<Packet> = {}, c = cfg) {
  const q = { id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type } as Question], additionals: [], ...extra }
  const out = answerQuery(q, view, c)
  if (out.kind !== 'answer') return { forward: true as const }
  const p = out.packet
  return { forward: false as const, p, rcode: (p.flags ?? 0) & 0xf, answers: p.answers ?? [], authorities: p.authorities ?? [], additionals: p.additionals ?? [] }
}

function setup () {
  const { view, t: tb } = fakeView()
  putEp(tb, ep('web', '10.240.0.1', { port: 8081 }))
  putEp(tb, ep('web', '10.240.0.2', { port: 8082, weight: 5 }))
  putEp(tb, ep('web', '10.240.0.3', { health: 'unhealthy' }))
  putEp(tb, ep('web', '10.240.0.4', { state: 'draining' }))
  tb.services.put('empty', serviceRec('empty'))
  return { view, tb }
}

t.test('A: healthy running IPs, rotated per answer, TTL from config, authoritative', async (t) => {
  const { view } = setup()
  const a = ask(view, 'web.service.driftgate', 'A')
  t.equal(a.forward, false)
  if (a.forward) return
  t.equal(a.rcode, Rcode.NOERROR)
  t.ok((a.p.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER)
  t.same(a.answers.map((x) => (x as { data: string }).data), ['10.240.0.1', '10.240.0.2'])
  t.equal((a.answers[0] as { ttl?: number }).ttl, 0)
  const b = ask(view, 'WEB.Service.Driftgate.', 'A')
  if (b.forward) return
  t.same(b.answers.map((x) => (x as { data: string }).data), ['10.240.0.2', '10.240.0.1'], 'rotated, case-insensitive')
  const c = ask(view, 'web.service.driftgate', 'A', {}, { ...cfg, ttl: 30 })
  if (c.forward) return
  t.equal((c.answers[0] as { ttl?: number }).ttl, 30)
})

t.test('SRV: port, weight and addr target per endpoint, A records in additional', async (t) => {
  const { view } = setup()
  const r = ask(view, 'web.service.driftgate', 'SRV')
  if (r.forward) return t.fail('forwarded')
  const srv = r.answers.map((x) => (x as { data: { port: number, weight: number, target: string } }).data)
    .sort((a, b) => a.port - b.port)
  t.same(srv, [
    { priority: 1, weight: 1, port: 8081, target: '10-240-0-1.addr.driftgate' },
    { priority: 1, weight: 5, port: 8082, target: '10-240-0-2.addr.driftgate' },
  ])
  t.same(r.additionals.map((x) => [x.name, (x as { data: string }).data]).sort(),
    [['10-240-0-1.addr.driftgate', '10.240.0.1'], ['10-240-0-2.addr.driftgate', '10.240.0.2']])
  const tgt = ask(view, '10-240-0-2.addr.driftgate', 'A')
  if (tgt.forward) return
  t.same(tgt.answers.map((x) => (x as { data: string }).data), ['10.240.0.2'])
  const bad = ask(view, '10-240-0-300.addr.driftgate', 'A')
  if (!bad.forward) t.equal(bad.rcode, Rcode.NXDOMAIN)
})

t.test('unknown names in the domain: NXDOMAIN with SOA; known without data: NODATA with SOA', async (t) => {
  const { view } = setup()
  for (const name of ['nope.service.driftgate', 'x.y.service.driftgate', 'service.driftgate', 'Bad_Name.service.driftgate', 'ghost.driftgate']) {
    const r = ask(view, name, 'A')
    if (r.forward) { t.fail(name); continue }
    t.equal(r.rcode, Rcode.NXDOMAIN, name)
    t.equal(r.authorities[0]?.type, 'SOA', `${name} has SOA`)
  }
  for (const [name, type] of [['empty.service.driftgate', 'A'], ['web.service.driftgate', 'AAAA'], ['driftgate', 'A']]) {
    const r = ask(view, name, type)
    if (r.forward) { t.fail(name); continue }
    t.equal(r.rcode, Rcode.NOERROR, `${name} ${type}`)
    t.equal(r.answers.length, 0)
    t.equal(r.authorities[0]?.type, 'SOA')
  }
  const soa = ask(view, 'driftgate', 'SOA')
  if (!soa.forward) t.equal(soa.answers[0]?.type, 'SOA')
})

t.test('ANY is REFUSED, outside names forward (or REFUSED without forwarders), bad opcodes NOTIMP', async (t) => {
  const { view } = setup()
  const any = ask(view, 'web.service.driftgate', 'ANY')
  if (!any.forward) t.equal(any.rcode, Rcode.REFUSED)
  t.equal(ask(view, 'example.org', 'A').forward, true)
  t.equal(ask(view, 'driftgate.example.org', 'A').forward, true, 'suffix match is by label')
  const refused = ask(view, 'example.org', 'A', {}, { ...cfg, forwarding: false })
  if (!refused.forward) t.equal(refused.rcode, Rcode.REFUSED)
  const notimp = answerQuery({ id: 1, opcode: 'UPDATE', questions: [{ name: 'web.service.driftgate', type: 'A' }] }, view, cfg)
  t.equal(notimp.kind === 'answer' && ((notimp.packet.flags ?? 0) & 0xf), Rcode.NOTIMP)
  const none = answerQuery({ id: 1, questions: [] }, view, cfg)
  t.equal(none.kind === 'answer' && ((none.packet.flags ?? 0) & 0xf), Rcode.FORMERR)
})

t.test('EDNS: OPT echoed; truncation to 512 without EDNS sets TC and keeps whole records', async (t) => {
  const { view, tb } = setup()
  for (let i = 10; i < 70; i++) putEp(tb, ep('big', `10.240.1.${i}`))
  const plain = ask(view, 'big.service.driftgate', 'A')
  if (plain.forward) return
  const full = dnsPacket.encode(plain.p)
  t.ok(full.length > 512)
  const cut = encodeFit(plain.p, 512)
  t.ok(cut.length <= 512)
  const d = dnsPacket.decode(cut)
  t.equal(d.flag_tc, true)
  t.ok((d.answers ?? []).length > 0 && (d.answers ?? []).length < 60)
  const q = { id: 1, questions: [{ name: 'big.service.driftgate', type: 'A' as const }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as never] }
  t.equal(udpLimit(q), 1232, 'EDNS size clamped to 1232 by default')
  t.equal(udpLimit(q, 4096), 4096, 'or to the configured maximum')
  t.equal(udpLimit(q, 100), 512, 'never below 512')
  t.equal(udpLimit({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 100 } as never] }), 512)
  t.equal(udpLimit({}), 512)
  const e = answerQuery(q, view, cfg)
  if (e.kind !== 'answer') return
  const out = dnsPacket.decode(encodeFit(e.packet, 4096))
  t.equal(out.flag_tc, false)
  t.equal(out.answers?.length, 60)
  t.ok(out.additionals?.some((a) => a.type === 'OPT'))
})

t.test('decodeQuery: runts and responses dropped, garbage gets FORMERR with its id, never throws', async (t) => {
  t.equal(decodeQuery(Buffer.from([1, 2, 3])).ok, false)
  const resp = dnsPacket.encode({ type: 'response', id: 5, questions: [{ name: 'a', type: 'A' }] })
  const r = decodeQuery(resp)
  t.same(r, { ok: false, reply: null })
  const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0x3f, 0x41])
  const g = decodeQuery(garbage)
  t.equal(g.ok, false)
  if (!g.ok && g.reply !== null) {
    t.equal(g.reply.readUInt16BE(0), 0x1234)
    t.equal(g.reply[3] & 0xf, Rcode.FORMERR)
    t.ok(g.reply[2] & 0x80, 'QR set')
  }
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(Math.random() * 80)
    const buf = Buffer.alloc(len)
    for (let j = 0; j < len; j++) buf[j] = Math.floor(Math.random() * 256)
    decodeQuery(buf)
  }
  t.pass('2000 random packets decoded without throwing')
})

t.test('names we could not echo faithfully are FORMERR', async (t) => {
  const { view } = setup()
  const r = ask(view, 'we\u00ffb.service.driftgate', 'A')
  if (!r.forward) t.equal(r.rcode, Rcode.FORMERR)
})
