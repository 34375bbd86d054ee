// Issue 15 hole 6 on the DNS side, against the registry's real DNS server
// (startLookup, real nats-server) and real sockets: ANY refused before
// forwarding, every reply within the client's limit (forwarded ones too),
// forwarding only for allowed client networks, a per-client response rate
// limit, and TCP backpressure for clients that never read.
import t from 'tap'
import { createSocket, type Socket } from 'node:dgram'
import { connect as tcpConnect } from 'node:net'
import dnsPacket from 'dns-packet'
import { openBucket, Buckets, encodeJson } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { startLookup } from '../../src/registry/lookup/index.js'
import { Registry } from 'prom-client'
import { startStack, endpoint, type Stack } from './lookup-setup.js'

// An upstream that answers every A query over UDP with 100 addresses (~3 KB), ignoring the client's size.
async function loudResolver (): Promise<{ port: number, queries: number, close: () => Promise<void> }> {
  const sock = createSocket('udp4')
  const state = { port: 0, queries: 0, close: () => new Promise<void>((resolve) => sock.close(() => resolve())) }
  sock.on('message', (msg, rinfo) => {
    state.queries++
    const q = dnsPacket.decode(msg)
    const question = q.questions![0]
    const reply = dnsPacket.encode({
      id: q.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions: [question],
      answers: Array.from({ length: 100 }, (_, i) => ({ type: 'A' as const, name: question.name, ttl: 60, data: `192.0.2.${i + 1}` })),
    })
    sock.send(reply, rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  state.port = sock.address().port
  return state
}

/** One UDP query from `from` (a loopback source address); resolves to the raw reply or null after 1 s. */
async function ask (port: number, packet: dnsPacket.Packet, from = '127.0.0.1'): Promise<Buffer | null> {
  const sock: Socket = createSocket('udp4')
  await new Promise<void>((resolve) => sock.bind(0, from, resolve))
  try {
    return await new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 1000)
      sock.once('message', (m) => { clearTimeout(timer); resolve(m) })
      sock.send(dnsPacket.encode(packet), port, '127.0.0.1')
    })
  } finally { sock.close() }
}

const query = (name: string, type: string, edns?: number): dnsPacket.Packet => ({
  id: 7, type: 'query', flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ name, type: type as 'A' }],
  additionals: edns === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: edns } as unknown as dnsPacket.Answer],
})
const TC = (b: Buffer): boolean => (b[2] & 0x02) !== 0
const rcode = (b: Buffer): number => b[3] & 0x0f

let up: Awaited<ReturnType<typeof loudResolver>>
let s: Stack

t.before(async () => {
  up = await loudResolver()
  s = await startStack({ dnsForward: [`127.0.0.1:${up.port}`], dnsForwardTimeoutMs: 500, dnsForwardAllow: ['127.0.0.1/32'], dnsRateLimit: 0 })
  for (let i = 0; i < 80; i++) await s.putEndpoint(endpoint('big', `10.240.5.${i + 1}`))
  const until = Date.now() + 5000
  while ((s.lookup.view.get('big')?.endpoints.size ?? 0) < 80 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
})
t.teardown(async () => { await s?.close(); await up?.close() })

t.test('ANY is refused, also for names that would be forwarded', async (t) => {
  const before = up.queries
  const r = await ask(s.lookup.dnsPort, query('outside.example.test', 'ANY'))
  t.ok(r !== null)
  t.equal(rcode(r!), 5, 'REFUSED')
  t.equal(up.queries, before, 'not forwarded')
})

t.test('local answers fit the client: 512 without EDNS, EDNS size clamped to 1232', async (t) => {
  const plain = (await ask(s.lookup.dnsPort, query('big.service.driftgate', 'A')))!
  t.ok(plain.length <= 512 && TC(plain), `no EDNS: ${plain.length} bytes, TC`)
  const huge = (await ask(s.lookup.dnsPort, query('big.service.driftgate', 'A', 65000)))!
  t.ok(huge.length <= 1232 && TC(huge), `EDNS 65000 asked: ${huge.length} bytes, TC`)
  const small = (await ask(s.lookup.dnsPort, query('big.service.driftgate', 'A', 100)))!
  t.ok(small.length <= 512, 'EDNS below 512 counts as 512')
})

t.test('forwarded replies are cut to the client limit with TC', async (t) => {
  const plain = await ask(s.lookup.dnsPort, query('outside.example.test', 'A'))
  t.ok(plain !== null)
  t.ok(plain!.length <= 512, `3 KB upstream reply to a non-EDNS client: ${plain!.length} bytes`)
  t.ok(TC(plain!), 'TC set')
  t.equal(plain!.readUInt16BE(0), 7, 'client id kept')
  const edns = await ask(s.lookup.dnsPort, query('outside.example.test', 'A', 4096))
  t.ok(edns!.length <= 1232 && TC(edns!), `EDNS 4096 client: ${edns!.length} bytes, TC`)
})

t.test('forwarding only for allowed client networks', async (t) => {
  const before = up.queries
  const denied = await ask(s.lookup.dnsPort, query('outside.example.test', 'A'), '127.0.0.2')
  t.equal(rcode(denied!), 5, 'client outside --dns-forward-allow: REFUSED')
  t.equal(up.queries, before, 'upstream not asked')
  const local = await ask(s.lookup.dnsPort, query('big.service.driftgate', 'A'), '127.0.0.2')
  t.equal(rcode(local!), 0, 'our own names still answered for that client')
  t.equal(rcode((await ask(s.lookup.dnsPort, query('outside.example.test', 'A')))!), 0, 'allowed client forwarded')
})

t.test('default allow list: loopback and the IPAM pools\' subnets, following the bucket', async (t) => {
  const ipam = await openBucket(s.nc, Buckets.ipam)
  const pool = { v: 1, name: 'mv9', subnet: '10.240.77.0/24', start: '10.240.77.10', end: '10.240.77.200', gateway: '10.240.77.1', reserved: [], createdAt: Date.now() }
  await ipam.put('pool.mv9', encodeJson(pool))
  const l = await startLookup({
    kv: s.kv, ipam, log: silentLogger(), metrics: new Registry(),
    config: { httpPort: 0, dnsPort: 0, dnsForward: [`127.0.0.1:${up.port}`] },
  })
  t.teardown(() => l.close())
  t.ok(l.dns.forwardAllowed('127.0.0.9'), 'loopback')
  t.ok(l.dns.forwardAllowed('10.240.77.33'), 'pool subnet')
  t.notOk(l.dns.forwardAllowed('10.240.78.33'), 'other network')
  await ipam.put('pool.mv8', encodeJson({ ...pool, name: 'mv8', subnet: '10.240.78.0/24', start: '10.240.78.10', end: '10.240.78.20', gateway: '10.240.78.1' }))
  const until = Date.now() + 3000
  while (!l.dns.forwardAllowed('10.240.78.33') && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.ok(l.dns.forwardAllowed('10.240.78.33'), 'a new pool is allowed once it is in the bucket')
})

t.test('responses per client are rate limited; other clients unaffected', async (t) => {
  const metrics = new Registry()
  const l = await startLookup({
    kv: s.kv, log: silentLogger(), metrics,
    config: { httpPort: 0, dnsPort: 0, dnsRateLimit: 50, dnsRateBurst: 100 },
  })
  t.teardown(() => l.close())
  const sock = createSocket('udp4')
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  let replies = 0
  sock.on('message', () => { replies++ })
  const q = dnsPacket.encode(query('big.service.driftgate', 'A'))
  const t0 = performance.now()
  for (let i = 0; i < 400; i++) {
    sock.send(q, l.dnsPort, '127.0.0.1')
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5))
  }
  const sendMs = performance.now() - t0
  await new Promise((r) => setTimeout(r, 300))
  sock.close()
  const most = 100 + Math.ceil(50 * sendMs / 1000) + 5
  t.comment(`400 queries in ${sendMs.toFixed(0)} ms: ${replies} replies (bucket allows at most ${most})`)
  t.ok(replies >= 100 && replies <= most, `burst 100 + refill at 50/s: got ${replies}`)
  const other = await ask(l.dnsPort, query('big.service.driftgate', 'A'), '127.0.0.5')
  t.ok(other !== null && rcode(other) === 0, 'another client is still answered')
  t.match(await metrics.metrics(), /driftgate_lookup_dns_dropped_total\{reason="rate_limited"\} \d{3}/)
})

t.test('TCP: a client that never reads gets bounded queued bytes and is dropped', async (t) => {
  const l = await startLookup({
    kv: s.kv, log: silentLogger(), metrics: new Registry(),
    config: { httpPort: 0, dnsPort: 0, dnsRateLimit: 0, dnsTcpIdleMs: 2000 },
  })
  t.teardown(() => l.close())
  const q = dnsPacket.encode(query('big.service.driftgate', 'A'))
  const frame = Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q])
  const sock = tcpConnect(l.dnsPort, '127.0.0.1')
  sock.pause() // never read
  let closed = false
  sock.on('close', () => { closed = true })
  sock.on('error', () => {})
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()))
  let sent = 0
  // 164 KB of queries, written as fast as the server takes them.
  while (sent < 164 * 1024 && !closed) {
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => frame))
    sent += chunk.length
    if (!sock.write(chunk)) await Promise.race([new Promise((r) => sock.once('drain', r)), new Promise((r) => setTimeout(r, 300))])
  }
  await new Promise((r) => setTimeout(r, 500))
  const queued = l.dns.tcpQueuedBytes()
  t.comment(`sent ${sent} bytes of queries; server queue ${queued} bytes`)
  t.ok(queued <= 256 * 1024, `queued reply bytes bounded (${queued})`)
  const until = Date.now() + 8000
  while (l.dns.tcpConnections() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
  t.equal(l.dns.tcpConnections(), 0, 'the client that never reads is dropped')
  let received = 0
  sock.on('data', (d: Buffer) => { received += d.length })
  sock.resume()
  const end = Date.now() + 3000
  while (!closed && Date.now() < end) await new Promise((r) => setTimeout(r, 50))
  t.comment(`the client then read ${received} bytes before the close`)
  t.ok(closed)
  sock.destroy()
})
