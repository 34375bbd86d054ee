// Property tests (fast-check) for the registry's DNS server, over real UDP and
// TCP sockets against startLookup on a real nats-server: arbitrary bytes and
// arbitrary well-formed queries (names, types, EDNS sizes), and TCP framing
// (frames split across writes, zero length, lengths longer than the data).
// Properties: the server never crashes and keeps answering; every reply fits
// the client's limit (512 without EDNS, the EDNS size clamped to 1232 over
// UDP, 65535 over TCP); malformed input gets FORMERR or nothing; the view is
// unchanged. CI runs a seeded few hundred cases; FUZZ_RUNS=5000 (and
// FUZZ_SEED=<n>) for long runs.
import t from 'tap'
import fc from 'fast-check'
import { createSocket, type Socket } from 'node:dgram'
import { connect as tcpConnect } from 'node:net'
import dnsPacket from 'dns-packet'
import { encodeJson } from '../../src/bus/index.js'
import { udpLimit } from '../../src/dns/index.js'
import { startStack, endpoint, fakeResolver, serviceRecord, type Stack } from './lookup-setup.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 150)
const SEED = Number(process.env.FUZZ_SEED ?? 15_0615)
const params = (runs = RUNS): fc.Parameters<unknown> => ({ seed: SEED, numRuns: runs, endOnFailure: true })

let s: Stack
let upstream: Awaited<ReturnType<typeof fakeResolver>>
let sock: Socket
const stats = { udp: 0, udpReplies: 0, formerr: 0, tcpCases: 0, tcpReplies: 0 }

const known = (): string => JSON.stringify({ gen: s.lookup.view.generation, eps: [...(s.lookup.view.get('big')?.endpoints.keys() ?? [])].length, names: s.lookup.view.names() })
let before = ''

t.before(async () => {
  upstream = await fakeResolver({ 'outside.example.test': '192.0.2.55' })
  s = await startStack({ dnsForward: [`127.0.0.1:${upstream.port}`], dnsForwardTimeoutMs: 300, dnsRateLimit: 0 }, async (kv) => {
    await kv.services.put('web', encodeJson(serviceRecord('web')))
  })
  for (let i = 0; i < 70; i++) await s.putEndpoint(endpoint('big', `10.240.6.${i + 1}`, { port: 8000 + i }))
  await s.putEndpoint(endpoint('web', '10.240.6.200'))
  const until = Date.now() + 5000
  while ((s.lookup.view.get('big')?.endpoints.size ?? 0) < 70 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  sock = createSocket('udp4')
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  before = known()
})
t.teardown(async () => {
  sock?.close()
  t.comment(`fuzz stats: ${JSON.stringify(stats)}`)
  await s?.close()
  await upstream?.close()
})

// The reply limit for what we sent, as the server must apply it.
function limitOf (raw: Buffer): number {
  try { return udpLimit(dnsPacket.decode(raw)) } catch { return 512 }
}

const SENTINEL_ID = 0xfeed
const sentinel = dnsPacket.encode({ id: SENTINEL_ID, type: 'query', questions: [{ name: 'web.service.driftgate', type: 'A' }] })

/** Sends `raw`, then a sentinel query; returns every reply that came before the sentinel's (plus stragglers for forwarded ones). */
async function exchange (raw: Buffer, forwarded: boolean): Promise<Buffer[]> {
  const got: Buffer[] = []
  let sawSentinel = false
  const onMsg = (m: Buffer): void => {
    if (!sawSentinel && m.length >= 12 && m.readUInt16BE(0) === SENTINEL_ID && m.includes(Buffer.from('web'))) { sawSentinel = true; return }
    got.push(m)
  }
  sock.on('message', onMsg)
  try {
    sock.send(raw, s.lookup.dnsPort, '127.0.0.1')
    sock.send(sentinel, s.lookup.dnsPort, '127.0.0.1')
    const until = Date.now() + 3000
    while (!sawSentinel && Date.now() < until) await new Promise((r) => setTimeout(r, 1))
    if (!sawSentinel) throw new Error('the server stopped answering')
    if (forwarded) await new Promise((r) => setTimeout(r, 30))
    return got
  } finally { sock.off('message', onMsg) }
}

function checkReplies (raw: Buffer, replies: Buffer[]): void {
  stats.udp++
  stats.udpReplies += replies.length
  if (replies.length > 1) throw new Error(`${replies.length} replies to one datagram`)
  const limit = limitOf(raw)
  for (const r of replies) {
    if (r.length > limit) throw new Error(`reply of ${r.length} bytes over the client's limit ${limit}`)
    if (r.length < 12) throw new Error('runt reply')
    let decoded: dnsPacket.DecodedPacket | undefined
    try { decoded = dnsPacket.decode(r) } catch { throw new Error('undecodable reply') }
    if ((r[2] & 0x80) === 0) throw new Error('reply without QR')
    if (r.readUInt16BE(0) !== raw.readUInt16BE(0)) throw new Error('reply id differs from the query id')
    if ((r[3] & 0x0f) === 1) stats.formerr++
    void decoded
  }
}

const TYPES = ['A', 'AAAA', 'SRV', 'SOA', 'ANY', 'TXT', 'MX', 'PTR', 'CNAME', 'NS', 'CAA'] as const
const label = fc.oneof(
  fc.constantFrom('big', 'web', 'nope', 'service', 'addr', 'driftgate', '10-240-6-1', '300-1-1-1', '*', '_srv'),
  fc.string({ unit: fc.constantFrom(...'abcz09-_.*\\ \u00e9'.split('')), minLength: 1, maxLength: 63 }),
)
const name = fc.oneof(
  fc.tuple(label).map(([a]) => `${a}.service.driftgate`),
  fc.tuple(label).map(([a]) => `${a}.addr.driftgate`),
  fc.array(label, { minLength: 0, maxLength: 6 }).map((ls) => [...ls, 'driftgate'].join('.')),
  fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => [...ls, 'example', 'test'].join('.')),
  fc.constant('outside.example.test'),
)
const wellFormed = fc.record({
  id: fc.integer({ min: 0, max: 0xfffe }),
  name,
  type: fc.constantFrom(...TYPES),
  rd: fc.boolean(),
  edns: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  cls: fc.constantFrom('IN', 'IN', 'IN', 'CH'),
})
type WellFormed = typeof wellFormed extends fc.Arbitrary<infer T> ? T : never

function encodeQuery (q: WellFormed): Buffer | null {
  try {
    return dnsPacket.encode({
      id: q.id, type: 'query', flags: q.rd ? dnsPacket.RECURSION_DESIRED : 0,
      questions: [{ name: q.name, type: q.type as 'A', class: q.cls as 'IN' }],
      additionals: q.edns === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: q.edns } as unknown as dnsPacket.Answer],
    })
  } catch { return null } // a name dns-packet itself refuses (label > 63 bytes...)
}

t.test('UDP: arbitrary bytes', async (t) => {
  const bytes = fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 600 }),
    // Mostly-valid headers: a query flag word and small counts, random rest.
    fc.tuple(fc.integer({ min: 0, max: 0xfffe }), fc.integer({ min: 0, max: 0x7fff }), fc.uint8Array({ minLength: 0, maxLength: 8 }), fc.uint8Array({ minLength: 0, maxLength: 300 }))
      .map(([id, flags, counts, rest]) => {
        const h = Buffer.alloc(12)
        h.writeUInt16BE(id, 0); h.writeUInt16BE(flags, 2)
        for (let i = 0; i < 4; i++) h.writeUInt16BE(counts[i] ?? (i === 0 ? 1 : 0), 4 + i * 2)
        return new Uint8Array(Buffer.concat([h, Buffer.from(rest)]))
      }),
  )
  await fc.assert(fc.asyncProperty(bytes, async (b) => {
    const raw = Buffer.from(b)
    if (raw.length >= 2 && raw.readUInt16BE(0) === SENTINEL_ID) raw.writeUInt16BE(0, 0)
    checkReplies(raw, await exchange(raw, true))
  }), params())
  t.equal(known(), before, 'view unchanged')
})

t.test('UDP: well-formed queries of every shape fit the client limit', async (t) => {
  await fc.assert(fc.asyncProperty(wellFormed, async (q) => {
    const raw = encodeQuery(q)
    if (raw === null) return
    const replies = await exchange(raw, !q.name.endsWith('driftgate'))
    checkReplies(raw, replies)
    if (replies.length !== 1) throw new Error('no reply to a well-formed query')
    const d = dnsPacket.decode(replies[0])
    // FORMERR is right when the generated name did not encode faithfully (an empty label ends the name early).
    if (q.type === 'ANY' && ![1, 5].includes(replies[0][3] & 0x0f)) throw new Error('ANY neither REFUSED nor FORMERR')
    if (q.edns === undefined && (d.additionals ?? []).some((a) => a.type === 'OPT') && q.name.endsWith('driftgate')) throw new Error('OPT in reply to a non-EDNS query')
  }), params())
  t.equal(known(), before, 'view unchanged')
})

/** One TCP session: writes `chunks` (with small pauses), reads until the server closes or goes quiet. */
async function tcpSession (chunks: Buffer[], endAfter: boolean): Promise<{ replies: Buffer[], closed: boolean }> {
  return await new Promise((resolve, reject) => {
    const c = tcpConnect(s.lookup.dnsPort, '127.0.0.1')
    let buf = Buffer.alloc(0)
    const replies: Buffer[] = []
    let closed = false
    let quiet: NodeJS.Timeout | undefined
    const finish = (): void => { clearTimeout(quiet); c.destroy(); resolve({ replies, closed }) }
    const arm = (): void => { clearTimeout(quiet); quiet = setTimeout(finish, 150) }
    c.on('error', () => {})
    c.on('close', () => { closed = true; finish() })
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        replies.push(buf.subarray(2, 2 + buf.readUInt16BE(0)))
        buf = buf.subarray(2 + buf.readUInt16BE(0))
      }
      arm()
    })
    c.on('connect', () => {
      void (async () => {
        for (const ch of chunks) {
          if (c.destroyed) break
          c.write(ch)
          await new Promise((r) => setImmediate(r))
        }
        if (endAfter && !c.destroyed) c.end()
        arm()
      })().catch(reject)
    })
  })
}

const frameOf = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])

t.test('TCP framing: split writes, zero length, huge lengths, garbage frames', async (t) => {
  const frame = fc.oneof(
    wellFormed.map((q) => ({ kind: 'query' as const, raw: encodeQuery(q) })),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({ kind: 'bytes' as const, raw: Buffer.from(b) })),
    fc.constant({ kind: 'zero' as const, raw: Buffer.alloc(0) }),
    fc.integer({ min: 1, max: 65535 }).map((n) => ({ kind: 'huge' as const, raw: Buffer.from([n >> 8, n & 0xff, 1, 2, 3]) })),
  )
  const session = fc.record({
    frames: fc.array(frame, { minLength: 1, maxLength: 8 }),
    cuts: fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 6 }),
    endAfter: fc.boolean(),
  })
  await fc.assert(fc.asyncProperty(session, async ({ frames, cuts, endAfter }) => {
    stats.tcpCases++
    // Stream: well-formed frames framed properly; 'huge' is a raw length prefix with too little data (must be the last thing).
    const parts: Buffer[] = []
    let complete = 0
    for (const f of frames) {
      if (f.raw === null) continue
      if (f.kind === 'huge') { parts.push(f.raw); break }
      parts.push(frameOf(f.raw))
      if (f.kind === 'zero') break
      complete++
    }
    const stream = Buffer.concat(parts)
    const chunks: Buffer[] = []
    let at = 0
    for (const c of [...cuts].sort((a, b) => a - b)) {
      if (c > at && c < stream.length) { chunks.push(stream.subarray(at, c)); at = c }
    }
    chunks.push(stream.subarray(at))
    const { replies } = await tcpSession(chunks, endAfter)
    stats.tcpReplies += replies.length
    if (replies.length > complete) throw new Error(`${replies.length} replies to ${complete} complete frames`)
    for (const r of replies) {
      if (r.length < 12 || (r[2] & 0x80) === 0) throw new Error('not a DNS reply')
    }
  }), params(Math.max(20, Math.floor(RUNS / 2))))
  // Still serving both transports.
  const { replies } = await tcpSession([frameOf(sentinel)], true)
  t.equal(replies.length, 1, 'TCP still answers')
  t.equal((await exchange(Buffer.from(sentinel), false)).length, 1, 'UDP still answers')
  t.equal(known(), before, 'view unchanged')
  const until = Date.now() + 2000
  while (s.lookup.dns.tcpConnections() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.equal(s.lookup.dns.tcpConnections(), 0, 'no connection left open')
})
