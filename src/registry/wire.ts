// Bytes the registry sends per event, made cheaply (docs/architecture.md
// "Registry ingest under load"):
// - a header block of ONE header, as nats.js would encode it, without a
//   MsgHdrs (a Map, key canonicalisation, validation and a string join per
//   message): one per KV write (the CAS revision) and activity line (the
//   message id). nats.js's publish() only calls encode() on the headers it is
//   given (checked against nats 2.29).
// - small payloads through Buffer.from(), which slices node's shared 8 KB
//   pool, where TextEncoder.encode() allocates an ArrayBuffer per call (~5 %
//   of the registry's CPU at 5,000 events/s, with its GC). The bytes must not
//   be reached through `.buffer` without their offset (nothing here does).
import { headers as newHeaders, type MsgHdrs } from 'nats'

const BAD = /[\r\n]/

/** JSON as UTF-8 bytes from node's buffer pool (what encodeJson() gives, cheaper for small values). */
export function jsonBytes (value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8')
}

/** `NATS/1.0\r\n<name>: <value>\r\n\r\n`; a value with CR or LF gets nats.js's own headers (and its error). */
export function oneHeader (name: string, value: string): MsgHdrs {
  if (BAD.test(value)) {
    const h = newHeaders()
    h.set(name, value) // throws BadHeader, as before
    return h
  }
  const bytes = Buffer.from(`NATS/1.0\r\n${name}: ${value.trim()}\r\n\r\n`, 'utf8')
  return { encode: () => bytes } as unknown as MsgHdrs
}
