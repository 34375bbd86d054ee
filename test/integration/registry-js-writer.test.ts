// The registry's pipelined JetStream writer and its compare-and-set puts
// against a real nats-server: the same answers as kv.put() / js.publish()
// (revision, lost CAS, message-id duplicates, no stream, no answer).
import t from 'tap'
import { connect } from 'nats'
import { startNats } from '../harness/index.js'
import { ensureBuckets, encodeJson, ensureActivityStream, activitySubject, ACTIVITY_STREAM } from '../../src/bus/index.js'
import { CasWriter } from '../../src/registry/cas-writer.js'
import { JsWriter } from '../../src/registry/js-writer.js'
import { isCasConflict } from '../../src/registry/store.js'

/** A started writer, closed when the test ends, and a CAS writer on the endpoints bucket. */
function writers (t: { teardown: (fn: () => void) => void }, timeoutMs?: number): { js: JsWriter, cas: CasWriter } {
  const js = new JsWriter(nc, timeoutMs)
  js.start()
  t.teardown(() => { js.close() })
  return { js, cas: new CasWriter(js, kv.endpoints) }
}

const nats = await startNats()
t.teardown(async () => { try { process.kill(nats.pid, 'SIGCONT') } catch { /* gone */ } await nats.stop() })
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close() })
const kv = await ensureBuckets(nc, { replicas: 1 })

t.test('writes at the expected revision, loses a stale one, as kv.put does', async (t) => {
  const w = writers(t).cas
  const r1 = await w.put('web.c1', encodeJson({ n: 1 }), 0)
  t.ok(r1 > 0, 'first write gets a revision')
  const e = await kv.endpoints.get('web.c1')
  t.equal(e?.revision, r1)
  t.same(e?.json(), { n: 1 }, 'stored under $KV.<bucket>.<key>')
  const r2 = await w.put('web.c1', encodeJson({ n: 2 }), r1)
  t.ok(r2 > r1)
  // Stale: against r1 again, and "must not exist" on an existing key.
  const stale = await w.put('web.c1', encodeJson({ n: 3 }), r1).then(() => null, (err: unknown) => err)
  t.ok(isCasConflict(stale), 'a write against an old revision is a CAS conflict')
  const exists = await w.put('web.c1', encodeJson({ n: 4 }), 0).then(() => null, (err: unknown) => err)
  t.ok(isCasConflict(exists), 'revision 0 on an existing key is a CAS conflict')
  t.same((await kv.endpoints.get('web.c1'))?.json(), { n: 2 }, 'lost writes changed nothing')
  // kv.put()'s conflict reads the same.
  const viaKv = await kv.endpoints.put('web.c1', encodeJson({ n: 5 }), { previousSeq: r1 }).then(() => null, (err: unknown) => err)
  t.ok(isCasConflict(viaKv))
})

t.test('many writes in flight at once each get their own answer', async (t) => {
  const w = writers(t).cas
  const revs = await Promise.all(Array.from({ length: 500 }, async (_, i) => await w.put(`burst.c${i}`, encodeJson({ i }), 0)))
  t.equal(new Set(revs).size, 500, 'distinct revisions')
  for (const i of [0, 250, 499]) t.equal((await kv.endpoints.get(`burst.c${i}`))?.revision, revs[i])
})

t.test('bad keys are refused before anything is sent', async (t) => {
  const w = writers(t).cas
  for (const key of ['a.*', 'a.>', '.a', 'a.', 'a b', '']) {
    await t.rejects(w.put(key, encodeJson({}), 0), { code: 'DG_VALIDATION' }, JSON.stringify(key))
  }
})

t.test('a write to a bucket that does not exist fails at once (no responders)', async (t) => {
  const missing = { subjectForKey: (k: string) => `$KV.no_such_bucket.${k}` }
  const w = new CasWriter(writers(t).js, missing as unknown as typeof kv.endpoints)
  await t.rejects(w.put('a.b', encodeJson({}), 0), { code: 'DG_NATS_UNAVAILABLE', message: /no responders/ })
})

t.test('no answer in time: the write fails with a timeout; a late answer is ignored', async (t) => {
  const w = writers(t, 300).cas
  await nats.freeze()
  const started = Date.now()
  const p = w.put('late.c1', encodeJson({}), 0)
  await t.rejects(p, { code: 'DG_TIMEOUT' })
  t.ok(Date.now() - started < 2000, 'within the timeout plus one sweep')
  nats.thaw()
  // The frozen server still stores it once it runs again; the writer stays usable.
  const rev = await w.put('late.c2', encodeJson({}), 0)
  t.ok(rev > 0)
})

t.test('close fails what is waiting and refuses new writes; idempotent', async (t) => {
  const js = new JsWriter(nc)
  js.start()
  const w = new CasWriter(js, kv.endpoints)
  await nats.freeze()
  const p = w.put('closing.c1', encodeJson({}), 0)
  js.close()
  js.close()
  nats.thaw()
  await t.rejects(p, { code: 'DG_NATS_UNAVAILABLE' })
  await t.rejects(w.put('closing.c2', encodeJson({}), 0), { code: 'DG_NATS_UNAVAILABLE' })
})

t.test('a stream publish with a message id: stored once, the duplicate answered with the same sequence', async (t) => {
  const { js } = writers(t)
  await ensureActivityStream(await nc.jetstreamManager(), {})
  const jsm = await nc.jetstreamManager()
  const before = (await jsm.streams.info(ACTIVITY_STREAM)).state.messages
  const s1 = await js.publish(activitySubject(undefined, 'endpoint'), encodeJson({ n: 1 }), { msgID: 'e:web.c1:7' })
  const s2 = await js.publish(activitySubject(undefined, 'endpoint'), encodeJson({ n: 1 }), { msgID: 'e:web.c1:7' })
  t.equal(s2, s1, 'the duplicate names the stored message')
  t.equal((await jsm.streams.info(ACTIVITY_STREAM)).state.messages, before + 1, 'stored once')
})

t.test('fire(): stored without an answer, de-duplicated by its message id; refused once closed', async (t) => {
  const { js } = writers(t)
  await ensureActivityStream(await nc.jetstreamManager(), {})
  const jsm = await nc.jetstreamManager()
  const before = (await jsm.streams.info(ACTIVITY_STREAM)).state.messages
  js.fire(activitySubject(undefined, 'endpoint'), encodeJson({ n: 2 }), { msgID: 'e:web.c2:9' })
  js.fire(activitySubject(undefined, 'endpoint'), encodeJson({ n: 2 }), { msgID: 'e:web.c2:9' })
  js.fire(activitySubject(undefined, 'endpoint'), encodeJson({ n: 3 }), { msgID: 'e:web.c3:10' })
  // An answered publish after them on the same connection: they are stored by then.
  const last = await js.publish(activitySubject(undefined, 'endpoint'), encodeJson({ n: 4 }), { msgID: 'e:web.c4:11' })
  t.equal((await jsm.streams.info(ACTIVITY_STREAM)).state.messages, before + 3, 'two fired lines stored once each, then the answered one')
  const m = await jsm.streams.getMessage(ACTIVITY_STREAM, { seq: last - 1 })
  t.equal(m.header.get('Nats-Msg-Id'), 'e:web.c3:10', 'the message id header as nats.js would send it')
  const c = await connect({ servers: nats.url })
  const w = new JsWriter(c)
  w.start()
  await c.close()
  t.throws(() => { w.fire(activitySubject(undefined, 'endpoint'), encodeJson({}), { msgID: 'x' }) }, 'a closed connection throws at once')
  w.close()
})
