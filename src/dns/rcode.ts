// Response codes and the header-only reply: shared by the registry's DNS and
// the agent's container DNS stub.
import dnsPacket, { type Packet, type Question } from 'dns-packet'

const { RECURSION_DESIRED: RD } = dnsPacket

export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const

/** A header-only reply with an rcode (FORMERR, NOTIMP, SERVFAIL...). */
export function bare (id: number, rcode: number, rd = false, question?: Question): Packet {
  return { id, type: 'response', flags: rcode | (rd ? RD : 0), questions: question !== undefined ? [question] : [] }
}
