// Packet helpers around dns-packet: decoding that never throws, the UDP size
// limit of a query, and encoding that truncates (TC) to fit that limit.
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet'
import { Rcode } from './rcode.js'

export const UDP_MIN = 512
/** Largest UDP answer we ever send unless configured otherwise: DNS flag day 2020's 1232 (no IP fragmentation). */
export const UDP_MAX = 1232
const QR = 1 << 15

export type Decoded = { ok: true, packet: DecodedPacket & { opcode?: string } } | { ok: false, reply: Buffer | null }

/**
 * Responses (QR set) and runts are dropped silently; other undecodable input
 * gets a 12-byte FORMERR with the same id (no amplification possible).
 */
export function decodeQuery (raw: Buffer): Decoded {
  if (raw.length < 12 || (raw.readUInt16BE(2) & QR) !== 0) return { ok: false, reply: null }
  try {
    return { ok: true, packet: dnsPacket.decode(raw) }
  } catch {
    const reply = Buffer.alloc(12)
    reply.writeUInt16BE(raw.readUInt16BE(0), 0)
    reply.writeUInt16BE(QR | (raw.readUInt16BE(2) & 0x7800) | Rcode.FORMERR, 2)
    return { ok: false, reply }
  }
}

/** Clamps an EDNS UDP size to [512, max]. */
export function clampUdp (size: number, max = UDP_MAX): number { return Math.min(Math.max(UDP_MIN, max), Math.max(UDP_MIN, size)) }

/**
 * What fits in one UDP answer to this query: 512 without EDNS, else the
 * client's size clamped to [512, max]. A 50-byte query can never draw more
 * than `max` bytes (amplification).
 */
export function udpLimit (query: Packet, max = UDP_MAX): number {
  for (const a of query.additionals ?? []) {
    if (a.type === 'OPT') return clampUdp((a as unknown as { udpPayloadSize?: number }).udpPayloadSize ?? UDP_MIN, max)
  }
  return UDP_MIN
}

function answerLength (a: Answer): number {
  return dnsPacket.encodingLength({ answers: [a] }) - 12
}

/**
 * Encodes, and when the packet exceeds `limit` drops the additional records
 * (OPT kept), then the answers that do not fit, and sets TC so the client
 * retries over TCP.
 */
export function encodeFit (packet: Packet, limit: number): Buffer {
  const buf = dnsPacket.encode(packet)
  if (buf.length <= limit) return buf
  const answers = packet.answers ?? []
  const trimmed: Packet = {
    ...packet,
    flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
    answers: [],
    authorities: [],
    additionals: (packet.additionals ?? []).filter((a) => a.type === 'OPT'),
  }
  let total = dnsPacket.encodingLength(trimmed)
  let keep = 0
  for (const a of answers) {
    const len = answerLength(a)
    if (total + len > limit) break
    total += len
    keep++
  }
  trimmed.answers = answers.slice(0, keep)
  return dnsPacket.encode(trimmed)
}

/**
 * A forwarded reply cut to the client's limit: as it is when it fits, else
 * re-encoded with encodeFit (TC set, answers that fit kept). An upstream
 * reply we cannot decode is replaced by a header-only SERVFAIL.
 */
export function fitForwarded (reply: Buffer, limit: number, query: Packet): Buffer {
  if (reply.length <= limit) return reply
  let packet: Packet
  try { packet = dnsPacket.decode(reply) } catch {
    return dnsPacket.encode({ id: query.id ?? 0, type: 'response', flags: Rcode.SERVFAIL, questions: query.questions ?? [] })
  }
  packet.id = query.id ?? 0
  const fitted = encodeFit(packet, limit)
  if (fitted.length <= limit) return fitted
  // The question alone (or an odd OPT) does not fit: header only, TC.
  return dnsPacket.encode({ id: query.id ?? 0, type: 'response', flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, questions: [] })
}

export function rcodeOf (reply: Buffer): number { return reply.length >= 4 ? reply[3] & 0x0f : Rcode.SERVFAIL }
