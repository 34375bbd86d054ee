// Why the other sites mirror registry summaries and not the host table
// (docs/architecture.md "Sites"): on nats-server 2.9.10 a mirror re-checks the
// Nats-Expected-Last-Subject-Sequence header of every message it copies, so a
// mirror that never got one revision of a key (created late, or restarted
// after a cut while the key was rewritten) refuses every later revision of it.
// Plain puts (one writer per key, as the summaries are written) carry no such
// header and mirror fine. If a server upgrade makes the first case pass, the
// host table could be mirrored again: this test then says so.
import t from 'tap'
import { connect } from 'nats'
import { RetentionPolicy, StorageType, DiscardPolicy } from 'nats'
import { startNats } from '../harness/index.js'
import { waitUntil } from './registry-fixtures.js'

t.test('a late mirror of CAS-rewritten keys stalls; of plain puts it follows', async (t) => {
  const n = await startNats()
  t.teardown(() => n.stop())
  const nc = await connect({ servers: n.url })
  t.teardown(() => nc.close())
  const jsm = await nc.jetstreamManager()
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
  const cas = await nc.jetstream().views.kv('cas', { history: 1 })
  const plain = await nc.jetstream().views.kv('plain', { history: 1 })
  let rev = 0
  for (let i = 0; i < 5; i++) { rev = await cas.put('k', enc(`v${i}`), { previousSeq: rev }); await plain.put('k', enc(`v${i}`)) }
  const mirror = (name: string, origin: string) => ({
    name, mirror: { name: origin }, retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.Old, max_msgs_per_subject: 1, num_replicas: 1,
  })
  await jsm.streams.add(mirror('M_cas', 'KV_cas'))
  await jsm.streams.add(mirror('M_plain', 'KV_plain'))
  for (let i = 5; i < 10; i++) { rev = await cas.put('k', enc(`v${i}`), { previousSeq: rev }); await plain.put('k', enc(`v${i}`)) }
  const last = async (s: string, subj: string): Promise<string | undefined> => {
    try { return new TextDecoder().decode((await jsm.streams.getMessage(s, { last_by_subj: subj })).data) } catch { return undefined }
  }
  await waitUntil(async () => await last('M_plain', '$KV.plain.k') === 'v9', 10_000, 'the plain-put mirror follows')
  t.pass('a mirror of plain puts has the last value')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(await last('M_cas', '$KV.cas.k'), undefined, 'nats-server 2.9.10: a mirror of CAS writes that missed a revision copies none of the later ones')
})
