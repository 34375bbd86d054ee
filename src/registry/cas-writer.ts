// Compare-and-set puts to one KV bucket through a pipelined JsWriter: the
// same subject, header and answers as kv.put(key, data, { previousSeq }),
// without its per-write promise and timer machinery (js-writer.ts).
import type { KV } from 'nats'
import { DriftgateError, ErrorCodes } from '../core/index.js'
import type { JsWriter } from './js-writer.js'
import { oneHeader } from './one-header.js'

// nats.js's own key rule (kv validateKey): a bad key must not become a wildcard subject.
const KEY = /^[-/=\w]+(\.[-/=\w]+)*$/

const EXPECTED_SEQ = 'Nats-Expected-Last-Subject-Sequence'

export class CasWriter {
  private readonly prefix: string

  constructor (private readonly writer: JsWriter, kv: KV) {
    // The bucket's write subject prefix as kv.put() builds it: `$KV.<bucket>.` (or a mirror's edit prefix).
    const b = kv as unknown as { subjectForKey?: (k: string, edit: boolean) => string, bucket?: string }
    this.prefix = typeof b.subjectForKey === 'function' ? b.subjectForKey('_', true).slice(0, -1) : `$KV.${String(b.bucket)}.`
  }

  /** Writes `data` at `key` if the key's last revision is `previousSeq` (0: must not exist); resolves with the new revision. */
  put (key: string, data: Uint8Array, previousSeq: number): Promise<number> {
    if (!KEY.test(key)) return Promise.reject(new DriftgateError(ErrorCodes.VALIDATION, `invalid kv key: ${key.slice(0, 100)}`))
    return this.writer.publish(this.prefix + key, data, { headers: oneHeader(EXPECTED_SEQ, String(previousSeq)) })
  }
}
