// A cache of encoded answers, so the common query (A for a service, asked
// again and again) costs a header parse, a map lookup and a copy instead of a
// full decode → answer → encode. Entries are valid for one view generation:
// any visible change anywhere empties the cache, so it can never serve stale
// data. Rotation is kept by rotating the fixed-size A records of the cached
// packet (dns-packet does not compress names, so every A record of one answer
// has the same length). Anything unusual (several questions, unknown
// additional records, truncated answers, SRV) takes the normal path.
import type { Packet } from 'dns-packet'
import { clampUdp, UDP_MAX } from '../../../dns/index.js'

const QR = 0x80
const OPCODE = 0x78

interface Cached { buf: Buffer, start: number, count: number, recLen: number, rot: number }

export interface CacheKey { key: string, qEnd: number, limit: number }

/** Key of a plain query (one question, at most one OPT), or null to take the normal path. `udpMax` as in udpLimit. */
export function cacheKey (raw: Buffer, tcp: boolean, udpMax = UDP_MAX): CacheKey | null {
  if (raw.length < 17 || (raw[2] & (QR | OPCODE)) !== 0) return null
  if (raw.readUInt16BE(4) !== 1 || raw.readUInt16BE(6) !== 0 || raw.readUInt16BE(8) !== 0) return null
  const arCount = raw.readUInt16BE(10)
  if (arCount > 1) return null
  let o = 12
  for (;;) {
    if (o >= raw.length) return null
    const len = raw[o]
    if (len === 0) { o++; break }
    if (len > 63) return null // compression pointers in a query: not plain
    o += len + 1
  }
  if (o - 12 > 255 || o + 4 > raw.length) return null
  const qEnd = o + 4
  let limit = 512
  let edns = 0
  if (arCount === 1) {
    // OPT: root name, type 41, class = UDP size, ttl = ext rcode/version/flags, rdata skipped.
    if (qEnd + 11 > raw.length || raw[qEnd] !== 0 || raw.readUInt16BE(qEnd + 1) !== 41 || raw[qEnd + 6] !== 0) return null
    limit = clampUdp(raw.readUInt16BE(qEnd + 3), udpMax)
    edns = 1
  }
  if (tcp) limit = 65535
  return { key: `${raw[2] & 0x01}${edns}${limit}:${raw.toString('latin1', 12, qEnd)}`, qEnd, limit }
}

export class AnswerCache {
  private readonly map = new Map<string, Cached>()
  private generation = -1
  hits = 0
  misses = 0

  constructor (private readonly max = 20_000) {}

  /** The cached answer for this query with its id, rotated once more; null on a miss. */
  get (k: CacheKey, raw: Buffer, generation: number): Buffer | null {
    if (generation !== this.generation) { this.map.clear(); this.generation = generation }
    const c = this.map.get(k.key)
    if (c === undefined) { this.misses++; return null }
    this.hits++
    const out = Buffer.allocUnsafe(c.buf.length)
    c.buf.copy(out)
    out[0] = raw[0]
    out[1] = raw[1]
    if (c.count > 1) {
      const r = c.rot++ % c.count
      if (r !== 0) {
        const end = c.start + c.count * c.recLen
        const split = c.start + r * c.recLen
        c.buf.copy(out, c.start, split, end)
        c.buf.copy(out, c.start + (end - split), c.start, split)
      }
    }
    return out
  }

  /** Stores an answer when it is safe to replay: not truncated, rotatable (A only) or single. */
  put (k: CacheKey, raw: Buffer, reply: Buffer, packet: Packet, generation: number): void {
    if (generation !== this.generation) return
    if ((reply[2] & 0x02) !== 0) return // TC
    const answers = packet.answers ?? []
    if (answers.length > 1 && answers.some((a) => a.type !== 'A')) return
    // The question must come back byte for byte, so the answers start where the query's question ended.
    if (reply.length < k.qEnd || reply.compare(raw, 12, k.qEnd, 12, k.qEnd) !== 0) return
    let recLen = 0
    if (answers.length > 1) {
      recLen = Buffer.byteLength(answers[0].name) + 2 + 10 + 4
      if (answers.some((a) => a.name !== answers[0].name)) return
    }
    if (this.map.size >= this.max) this.map.clear()
    this.map.set(k.key, { buf: reply, start: k.qEnd, count: answers.length, recLen, rot: 1 })
  }
}
