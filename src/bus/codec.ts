// JSON over NATS with a size limit: the first line of defence against bad input.
const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** Messages larger than this are rejected before parsing (agent snapshots of 10k containers fit). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024

export function encodeJson (value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value))
}

export type DecodeResult = { ok: true, value: unknown } | { ok: false, reason: 'oversized' | 'not_utf8' | 'not_json' }

export function decodeJson (data: Uint8Array, maxBytes = MAX_MESSAGE_BYTES): DecodeResult {
  if (data.length > maxBytes) return { ok: false, reason: 'oversized' }
  let text: string
  try { text = dec.decode(data) } catch { return { ok: false, reason: 'not_utf8' } }
  try { return { ok: true, value: JSON.parse(text) as unknown } } catch { return { ok: false, reason: 'not_json' } }
}
