// Pure DNS logic: one decoded query + the view → the response packet, or
// "forward this". No sockets, no clock; rotation state lives on the view's
// service entries. Names under the domain:
//   <service>.service.<domain>   A (healthy running IPs, rotated), SRV
//   <ip-with-dashes>.addr.<domain>  A (the SRV targets; stateless, so a target
//                                   still resolves right after its endpoint left)
//   <domain>                     SOA
// Unknown names under the domain are NXDOMAIN with the SOA in authority; ANY is
// REFUSED (RFC 8482 lets us decline; REFUSED is the clearest "no" for clients),
// also for outside names (never forwarded). Outside names are forwarded only
// for clients the server allows (dns/allow.ts), else REFUSED.
import type { Answer, Packet, Question } from 'dns-packet'
import dnsPacket from 'dns-packet'
import { isDnsLabel, isIPv4, type EndpointRecord } from '../../../core/index.js'
import { Rcode, bare } from '../../../dns/index.js'
import type { LookupView } from '../view.js'

export interface AnswerConfig {
  /** Lowercase, no trailing dot, e.g. "driftgate". */
  domain: string
  /** TTL of every record we own, seconds. 0 = never cache (endpoints move all the time). */
  ttl: number
  /** Whether names outside the domain are forwarded (else REFUSED). */
  forwarding: boolean
}

/** `cacheable: false`: the answer depends on the client, not only on the query. */
export type Outcome = { kind: 'answer', packet: Packet, cacheable?: boolean } | { kind: 'forward' }

export const EDNS_PAYLOAD = 1232

const { AUTHORITATIVE_ANSWER: AA, RECURSION_DESIRED: RD, RECURSION_AVAILABLE: RA } = dnsPacket
const SAFE_NAME = /^[a-z0-9_.*-]*$/

export interface Query { id?: number, flags?: number, opcode?: string, questions?: Question[], additionals?: Answer[] }

export function hasEdns (q: Query): boolean {
  return (q.additionals ?? []).some((a) => a.type === 'OPT')
}

function opt (): Answer {
  return { type: 'OPT', name: '.', udpPayloadSize: EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as unknown as Answer
}

function soa (cfg: AnswerConfig, serial: number): Answer {
  return {
    type: 'SOA', name: cfg.domain, ttl: cfg.ttl, class: 'IN',
    data: {
      mname: `ns.${cfg.domain}`, rname: `hostmaster.${cfg.domain}`, serial: serial >>> 0,
      refresh: 3600, retry: 600, expire: 86400, minimum: cfg.ttl,
    },
  }
}

function rotated<T> (list: T[], by: number): T[] {
  if (list.length < 2) return list
  const k = by % list.length
  return k === 0 ? list.slice() : list.slice(k).concat(list.slice(0, k))
}

export function addrName (ip: string, domain: string): string { return `${ip.replace(/\./g, '-')}.addr.${domain}` }

function serviceAnswers (q: Question, eps: EndpointRecord[], cfg: AnswerConfig): { answers: Answer[], additionals: Answer[] } {
  const ttl = cfg.ttl
  if (q.type === 'A') {
    return { answers: eps.map((e) => ({ type: 'A', name: q.name, ttl, class: 'IN', data: e.ip })), additionals: [] }
  }
  const answers: Answer[] = []
  const additionals: Answer[] = []
  for (const e of eps) {
    const target = addrName(e.ip, cfg.domain)
    answers.push({ type: 'SRV', name: q.name, ttl, class: 'IN', data: { priority: 1, weight: e.weight, port: e.port, target } })
    additionals.push({ type: 'A', name: target, ttl, class: 'IN', data: e.ip })
  }
  return { answers, additionals }
}

/**
 * Decides the answer to one query. Mutates only rotation counters on the view.
 * `canForward`: whether this client may have outside names forwarded.
 */
export function answerQuery (query: Query, view: LookupView, cfg: AnswerConfig, canForward = true): Outcome {
  const id = query.id ?? 0
  const rd = ((query.flags ?? 0) & RD) !== 0
  if (query.opcode !== undefined && query.opcode !== 'QUERY') return { kind: 'answer', packet: bare(id, Rcode.NOTIMP, rd) }
  const questions = query.questions ?? []
  if (questions.length !== 1) return { kind: 'answer', packet: bare(id, Rcode.FORMERR, rd) }
  const q = questions[0]
  const name = q.name.toLowerCase().replace(/\.$/, '')
  const inDomain = name === cfg.domain || name.endsWith(`.${cfg.domain}`)
  // ANY (RFC 8482) and other classes are refused before anything else, forwarding included:
  // an ANY relayed upstream is the classic amplification query.
  if (q.class !== undefined && q.class !== 'IN') return { kind: 'answer', packet: bare(id, Rcode.REFUSED, rd, q) }
  if ((q.type as string) === 'ANY') return { kind: 'answer', packet: bare(id, Rcode.REFUSED, rd, q) }
  if (!inDomain) {
    if (cfg.forwarding && canForward) return { kind: 'forward' }
    // A refusal that depends on who asked must not be replayed to another client from the cache.
    return { kind: 'answer', packet: bare(id, Rcode.REFUSED, rd, q), cacheable: !cfg.forwarding }
  }
  // A name we would echo but could not re-encode faithfully (dots or bytes inside labels).
  if (!SAFE_NAME.test(name)) return { kind: 'answer', packet: bare(id, Rcode.FORMERR, rd) }
  const packet: Packet = {
    id, type: 'response', flags: AA | (rd ? RD : 0) | (cfg.forwarding ? RA : 0), questions: [q], answers: [], authorities: [], additionals: [],
  }
  const reply = (rcode: number): Outcome => {
    packet.flags = (packet.flags ?? 0) | rcode
    if ((packet.answers ?? []).length === 0) packet.authorities = [soa(cfg, view.generation)]
    if (hasEdns(query)) packet.additionals!.push(opt())
    return { kind: 'answer', packet }
  }

  const rel = name === cfg.domain ? [] : name.slice(0, -(cfg.domain.length + 1)).split('.')
  if (rel.length === 0) {
    if (q.type === 'SOA') packet.answers = [soa(cfg, view.generation)]
    return reply(Rcode.NOERROR)
  }
  if (rel.length === 2 && rel[1] === 'addr') {
    const ip = rel[0].replace(/-/g, '.')
    if (!isIPv4(ip)) return reply(Rcode.NXDOMAIN)
    if (q.type === 'A') packet.answers = [{ type: 'A', name: q.name, ttl: cfg.ttl, class: 'IN', data: ip }]
    return reply(Rcode.NOERROR)
  }
  if (rel.length === 2 && rel[1] === 'service' && isDnsLabel(rel[0])) {
    const entry = view.get(rel[0])
    if (entry === undefined) return reply(Rcode.NXDOMAIN)
    if (q.type === 'A' || q.type === 'SRV') {
      const eps = rotated(view.answer(entry), entry.rotation++)
      const { answers, additionals } = serviceAnswers(q, eps, cfg)
      packet.answers = answers
      packet.additionals = additionals
    }
    return reply(Rcode.NOERROR)
  }
  return reply(Rcode.NXDOMAIN)
}
