import t from 'tap'
import { connect, type NatsConnection } from 'nats'
import { startNats, waitFor, sleep } from '../harness/index.js'
import { openBucket, Buckets } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { Lease, readLease } from '../../src/placement/leader.js'

const LEASE_MS = 900

t.test('placement lease: one leader, takeover within the lease on death, fast handover on close', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const conns: NatsConnection[] = []
  const leases: Lease[] = []
  t.teardown(async () => {
    for (const l of leases) await l.close()
    for (const c of conns) await c.close().catch(() => {})
  })

  async function contender (holder: string): Promise<{ lease: Lease, nc: NatsConnection, changes: boolean[] }> {
    const nc = await connect({ servers: nats.url, maxReconnectAttempts: 0 })
    conns.push(nc)
    const kv = await openBucket(nc, Buckets.leases)
    const changes: boolean[] = []
    const lease = new Lease({ kv, holder, leaseMs: LEASE_MS, log: silentLogger(), onChange: (l) => changes.push(l) })
    leases.push(lease)
    lease.start()
    return { lease, nc, changes }
  }

  const a = await contender('reg-a')
  await waitFor(async () => a.lease.isLeader(), { timeoutMs: 5000, what: 'a leads' })
  const b = await contender('reg-b')
  const c = await contender('reg-c')

  // Sample often: never two leaders at once.
  let both = 0
  const sampler = setInterval(() => {
    if ([a, b, c].filter((x) => x.lease.isLeader()).length > 1) both++
  }, 5)
  t.teardown(() => clearInterval(sampler))

  await sleep(LEASE_MS * 2)
  t.ok(a.lease.isLeader(), 'the first leader keeps renewing')
  t.notOk(b.lease.isLeader() || c.lease.isLeader(), 'the others follow')
  const kvA = await openBucket(b.nc, Buckets.leases)
  t.equal((await readLease(kvA)).holder, 'reg-a', 'the lease names its holder')

  // Death: the leader's connection vanishes without a goodbye.
  const died = performance.now()
  await a.nc.close()
  await waitFor(async () => b.lease.isLeader() || c.lease.isLeader(), { timeoutMs: 10_000, intervalMs: 10, what: 'takeover' })
  const takeover = performance.now() - died
  t.ok(takeover <= LEASE_MS + b.lease.pollMs + 300, `takeover after ${Math.round(takeover)} ms (lease ${LEASE_MS} ms)`)
  t.notOk(a.lease.isLeader(), 'the dead leader stopped acting')
  t.same(a.changes, [true, false])

  // Graceful close hands over at the next poll.
  const next = b.lease.isLeader() ? b : c
  const other = next === b ? c : b
  const closed = performance.now()
  await next.lease.close()
  await waitFor(async () => other.lease.isLeader(), { timeoutMs: 5000, intervalMs: 10, what: 'handover' })
  const handover = performance.now() - closed
  t.ok(handover < other.lease.pollMs + 300, `handover after close in ${Math.round(handover)} ms`)
  t.equal(both, 0, 'never two leaders at the same moment')
})
