// The applier folds changes of one key that queue behind a write into one
// next write: same end state and per-change decisions as one write each,
// fewer writes, other keys untouched. The store is a slow in-memory CAS map
// (the logic under test is the applier's; the KV side is tested against a
// real server in registry-ingest and registry-multi).
import t from 'tap'
import { Registry } from 'prom-client'
import { EndpointApplier } from '../../src/registry/applier.js'
import { createRegistryMetrics } from '../../src/registry/metrics.js'
import { decide, fromSnapshot, type IngestEvent } from '../../src/registry/decide.js'
import { silentLogger, type EndpointRecord } from '../../src/core/index.js'
import type { VersionedStore, Versioned } from '../../src/registry/store.js'

class SlowStore {
  readonly map = new Map<string, Versioned<EndpointRecord>>()
  writes = 0
  rev = 0
  get (key: string): Versioned<EndpointRecord> | undefined { return this.map.get(key) }
  async refresh (key: string): Promise<Versioned<EndpointRecord>> { return this.map.get(key) ?? { value: null, revision: 0 } }
  async write (key: string, value: EndpointRecord, revision: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 5))
    if ((this.map.get(key)?.revision ?? 0) !== revision) throw new Error('wrong last sequence')
    this.writes++
    this.map.set(key, { value, revision: ++this.rev })
    return this.rev
  }
}

const ev = (seq: number, kind: 'upsert' | 'remove', ip: string, containerId = 'c1'): IngestEvent => ({
  kind, source: 'event', host: 'h1', instance: 'i1', seq, service: 'web', containerId,
  endpoint: kind === 'upsert'
    ? { service: 'web', containerId, ip, mac: '02:42:0a:f0:00:01', port: 80, network: 'mv0', state: 'running', health: 'none', weight: 1 }
    : undefined,
})

t.test('a burst of one key: one write after the first, same result as one by one', async (t) => {
  const store = new SlowStore()
  const metrics = createRegistryMetrics(new Registry())
  const applier = new EndpointApplier({ store: store as unknown as VersionedStore<EndpointRecord>, metrics, log: silentLogger(), now: () => 1000 })
  // seq 3 arrives before 2 (2 is then stale), 4 is a replay of 3's seq: all in one burst.
  const burst = [ev(1, 'upsert', '10.240.0.1'), ev(3, 'upsert', '10.240.0.3'), ev(2, 'upsert', '10.240.0.2'), ev(3, 'upsert', '10.240.0.3'), ev(5, 'remove', ''), ev(6, 'upsert', '10.240.0.6')]
  const other = applier.apply(ev(1, 'upsert', '10.240.1.1', 'c2'))
  const decisions = await Promise.all(burst.map(async (e) => await applier.apply(e)))
  await other

  // What one write per change gives:
  let state: EndpointRecord | null = null
  const expected = burst.map((e) => {
    const d = decide(state, e, 1000)
    if (d.action !== 'ignore') state = d.record as EndpointRecord
    return d.action
  })
  t.same(decisions.map((d) => d.action), expected, 'each change gets the decision it would get alone')
  t.same(store.get('web.c1')?.value, state, 'the same end state')
  t.equal(store.get('web.c1')?.value?.ip, '10.240.0.6')
  t.equal(store.writes, 3, 'c1: the first change, then the rest folded into one write; c2: one')
  t.equal((await metrics.coalescedEvents.get()).values[0].value, 2, 'seq 3, 5 and 6 wrote once: two folded')
})

t.test('a lost compare-and-set decides again on the fresh record', async (t) => {
  // The mirror lags: it has not seen seq 4, written by another instance.
  class LaggingStore extends SlowStore { override get (): undefined { return undefined } }
  const store = new LaggingStore()
  store.map.set('web.c1', { value: decide(null, ev(4, 'upsert', '10.240.0.4'), 1).record as EndpointRecord, revision: ++store.rev })
  const metrics = createRegistryMetrics(new Registry())
  const applier = new EndpointApplier({ store: store as unknown as VersionedStore<EndpointRecord>, metrics, log: silentLogger(), now: () => 1000 })
  const ds = await Promise.all([applier.apply(ev(3, 'upsert', '10.240.0.3')), applier.apply(ev(5, 'upsert', '10.240.0.5'))])
  t.same(ds.map((d) => d.action), ['ignore', 'put'], 'seq 3 is older than what the server holds; seq 5 is newer')
  t.equal(store.map.get('web.c1')?.value?.ip, '10.240.0.5')
  t.equal(store.writes, 1)
  t.equal((await metrics.writeConflicts.get()).values[0].value, 2, 'each batch lost once to the unseen write, then decided on it')
})

// A snapshot arriving while an older upsert of its host is still being
// written must remove that key too, though the table does not hold it yet.
t.test('keysInFlight: a snapshot sees the host\'s keys still being written', async (t) => {
  const store = new SlowStore()
  const metrics = createRegistryMetrics(new Registry())
  const applier = new EndpointApplier({ store: store as unknown as VersionedStore<EndpointRecord>, metrics, log: silentLogger(), now: () => 1000 })
  const older = applier.apply(ev(1, 'upsert', '10.240.0.1'))
  t.same([...applier.keysInFlight('h1')], ['web.c1'], 'the upsert is in flight')
  t.same([...applier.keysInFlight('h2')], [], 'nothing for another host')
  t.equal(store.get('web.c1'), undefined, 'not in the table yet')
  // The snapshot (seq 2) no longer lists c1: its diff over table ∪ in flight.
  const snapshot = { v: 1 as const, host: 'h1', instance: 'i1', seq: 2, time: 1000, sentAt: 1000, endpoints: [], containers: [] }
  const changes = fromSnapshot(snapshot, new Set([...applier.keysInFlight('h1')]))
  t.same(changes.map((c) => `${c.kind} ${c.containerId}`), ['remove c1'])
  await Promise.all([older, ...changes.map(async (c) => await applier.apply(c))])
  t.equal(store.get('web.c1')?.value?.removed, true, 'the older upsert landed first, then the snapshot removed it')
  t.same([...applier.keysInFlight('h1')], [], 'nothing left in flight once settled')
  // Without the in-flight keys the diff is empty, and c1 would stay live until the next snapshot.
  t.same(fromSnapshot(snapshot, []).length, 0)
})
