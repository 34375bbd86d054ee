// The registry's hand-made wire pieces against what nats.js / JetStream make:
// a one-header block byte for byte, and the PubAck fast read against JSON.parse.
import t from 'tap'
import { headers } from 'nats'
import { oneHeader } from '../../src/registry/one-header.js'
import { readPubAck } from '../../src/registry/js-writer.js'

const te = new TextEncoder()
/** What nats.js's publish() calls on headers (MsgHdrs does not declare it). */
const bytes = (h: unknown): Uint8Array => (h as { encode: () => Uint8Array }).encode()

t.test('oneHeader encodes the same bytes as a nats.js MsgHdrs of that one header', async (t) => {
  for (const [k, v] of [['Nats-Expected-Last-Subject-Sequence', '0'], ['Nats-Expected-Last-Subject-Sequence', '123456789'], ['Nats-Msg-Id', 'e:svc1.abc:42'], ['Nats-Msg-Id', ' padded ']]) {
    const h = headers()
    h.set(k, v)
    t.same(bytes(oneHeader(k, v)), bytes(h), `${k}: ${v}`)
  }
})

t.test('a value with CR or LF is refused as nats.js refuses it', async (t) => {
  t.throws(() => oneHeader('Nats-Msg-Id', 'a\r\nX-Evil: 1'), /invalid header value/)
})

t.test('readPubAck reads the sequence of a plain answer, and falls back to JSON.parse otherwise', async (t) => {
  const cases = [
    '{"stream":"KV_driftgate_endpoints","seq":1}',
    '{"stream":"KV_driftgate_endpoints","seq":9007199254740}',
    '{"stream":"DRIFTGATE_ACTIVITY","seq":42,"duplicate":true}',
    '{"stream":"s","domain":"hub","seq":7}',
    '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"},"stream":"s","seq":0}',
    '{"error":{"code":503,"description":"jetstream not enabled"}}',
    '{"stream":"s"}',
  ]
  for (const c of cases) {
    const fast = readPubAck(te.encode(c))
    const slow = JSON.parse(c) as { seq?: number, error?: unknown }
    t.equal(fast.seq, slow.seq, `seq of ${c}`)
    t.same(fast.error, slow.error, `error of ${c}`)
  }
  t.throws(() => readPubAck(te.encode('{"seq":')), SyntaxError, 'a cut answer is not read as a sequence')
  t.throws(() => readPubAck(te.encode('not json')), SyntaxError)
  // A view into a larger buffer (as nats.js hands it): only its own bytes count.
  const big = te.encode('xx{"stream":"s","seq":31}yy')
  t.equal(readPubAck(big.subarray(2, big.length - 2)).seq, 31)
})
