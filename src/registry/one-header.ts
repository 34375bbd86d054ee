// A message header block of ONE header, as nats.js would encode it, without
// building a MsgHdrs (a Map, key canonicalisation, validation and a string
// join per message). The registry sets one header on every KV write (the CAS
// revision) and every activity line (the message id): at thousands of events
// per second those objects were ~2 % of its CPU. nats.js's publish() only
// calls encode() on the headers it is given (checked against nats 2.29).
import { headers as newHeaders, type MsgHdrs } from 'nats'

const enc = new TextEncoder()
const BAD = /[\r\n]/

/** `NATS/1.0\r\n<name>: <value>\r\n\r\n`; a value with CR or LF gets nats.js's own headers (and its error). */
export function oneHeader (name: string, value: string): MsgHdrs {
  if (BAD.test(value)) {
    const h = newHeaders()
    h.set(name, value) // throws BadHeader, as before
    return h
  }
  const bytes = enc.encode(`NATS/1.0\r\n${name}: ${value.trim()}\r\n\r\n`)
  return { encode: () => bytes } as unknown as MsgHdrs
}
