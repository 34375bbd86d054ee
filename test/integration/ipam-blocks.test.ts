// Block-layout pools (issue 20) on a real nats-server: several allocators at
// once never hand out an address twice, the whole lifecycle (static, bind,
// release, quarantine, leak collection) works through batched block writes,
// an allocator killed while holding a lease loses nothing it answered, and
// its lease is overflowed while live and taken over once expired.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, sleep, waitFor } from '../harness/index.js'
import { Buckets, decodeJson, encodeJson, openBucket } from '../../src/bus/index.js'
import { blockKey, silentLogger, type BlockRecord } from '../../src/core/index.js'
import { bindByMac, ipamClient, startIpamDriver } from '../../src/agent/ipam/index.js'
import { addPool, allocations, closeAgents, mac, pluginCall, startAllocator, type TestAllocator } from './ipam-fixtures.js'

t.test('block-layout pools', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  const kv = await openBucket(nc, Buckets.ipam)
  const block = async (pool: string, i: number): Promise<BlockRecord | null> => {
    const e = await kv.get(blockKey(pool, i))
    const d = e?.operation === 'PUT' ? decodeJson(e.value) : null
    return d?.ok === true ? d.value as BlockRecord : null
  }
  const keys = async (pool: string): Promise<string[]> => { const out: string[] = []; for await (const k of await kv.keys(`${pool}.>`)) out.push(k); return out }

  await t.test('three allocators at once: no duplicate, every answer stored, one write for many', async (t) => {
    const allocs: TestAllocator[] = []
    for (let i = 0; i < 3; i++) allocs.push(await startAllocator(nats.url, { quarantineMs: 400, reserveGraceMs: 800, sweepMs: 100 }))
    t.teardown(async () => { for (const a of allocs) await a.close() })
    await addPool(kv, 'bk', { subnet: '10.240.2.0/24', blockSize: 16 })
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5']
    const got = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const host = hosts[i % hosts.length]
      return { i, host, r: await ipamClient(nc, host)('allocate', { v: 1, pool: 'bk', host, mac: mac(i, 7) }) }
    }))
    t.equal(new Set(got.map((g) => g.r.ip)).size, 200, '200 distinct addresses')
    const recs = await allocations(kv, 'bk')
    t.equal(recs.size, 200, 'all stored')
    for (const g of got) if (recs.get(`bk.${String(g.r.ip).replace(/\./g, '-')}`)?.owner.mac !== mac(g.i, 7)) t.fail(`${String(g.r.ip)} not stored for its owner`)
    t.ok((await keys('bk')).every((k) => /^bk\.blk-\d+$/.test(k)), 'only block records, no per-address key')
    const stats = allocs.map((a) => a.alloc.blockStats())
    const writes = stats.reduce((s, x) => s + x.writes, 0)
    t.ok(writes < 200, `${writes} block writes for 200 allocations`)
    const holders = new Set<string>()
    for (let i = 0; i < 16; i++) { const h = (await block('bk', i))?.lease?.holder; if (h != null) holders.add(h) }
    t.ok(holders.size >= 2, `blocks leased by ${holders.size} allocators`)

    const again = await ipamClient(nc, got[5].host)('allocate', { v: 1, pool: 'bk', host: got[5].host, mac: mac(5, 7) })
    t.equal(again.ip, got[5].r.ip, 'a retried request gets its address back')
    await t.rejects(ipamClient(nc, 'h9')('allocate', { v: 1, pool: 'bk', host: 'h9', mac: mac(900, 7), ip: got[0].r.ip }), { code: 'DG_IPAM_TAKEN' })
    const taken = new Set(got.map((g) => g.r.ip))
    const free = Array.from({ length: 250 }, (_, i) => `10.240.2.${i + 2}`).find((ip) => !taken.has(ip)) as string
    const freeKey = `bk.${free.replace(/\./g, '-')}`
    const stat = await ipamClient(nc, 'h9')('allocate', { v: 1, pool: 'bk', host: 'h9', mac: mac(900, 7), ip: free })
    t.equal(stat.ip, free, 'a free static address')

    const cid = 'c'.repeat(64)
    t.match(await bindByMac(nc, { host: 'h9', mac: mac(900, 7), ip: free, containerId: cid }), { ok: true, record: { state: 'bound' } })
    await t.rejects(bindByMac(nc, { host: got[1].host, mac: mac(999, 7), ip: got[1].r.ip as string, containerId: cid }), { code: 'DG_IPAM_NOT_OWNER' })
    const rel = got[2]
    const relKey = `bk.${String(rel.r.ip).replace(/\./g, '-')}`
    t.match(await ipamClient(nc, rel.host)('release', { v: 1, pool: 'bk', ip: rel.r.ip, host: rel.host, mac: mac(2, 7) }), { ok: true, record: { state: 'quarantined' } })
    await waitFor(async () => !(await allocations(kv, 'bk')).has(relKey), { what: 'freed after the quarantine' })

    // Leak collection from a snapshot of h9: the bound container is gone twice → released.
    const snapshot = (containers: string[]): void => {
      const now = Date.now()
      nc.publish('driftgate.snapshot.h9', encodeJson({ v: 1, host: 'h9', instance: '0000000aa-abcdef', seq: now, time: now, sentAt: now, endpoints: [], containers }))
    }
    await sleep(50)
    snapshot([])
    await waitFor(async () => (await allocations(kv, 'bk')).get(freeKey)?.missed === 1, { what: 'first miss' })
    snapshot([])
    await waitFor(async () => (await allocations(kv, 'bk')).get(freeKey)?.state !== 'bound', { what: 'released after the second miss' })

    // Docker's side: RequestAddress and ReleaseAddress through the plugin socket, as dockerd calls them.
    const dir = mkdtempSync(join(tmpdir(), 'dg-ipam-blk-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const metrics = new Registry()
    const driver = await startIpamDriver({ nc, host: 'h7', name: 'dgblk', socketDir: dir, log: silentLogger(), metrics })
    t.teardown(async () => { closeAgents(); await driver.close() })
    const asked = await pluginCall(driver.socketPath, 'IpamDriver.RequestAddress', { PoolID: 'bk', Address: '', Options: { 'com.docker.network.endpoint.macaddress': mac(700, 7) } })
    t.match(asked, { Address: /^10\.240\.2\.\d+\/24$/ })
    const ip = String(asked.Address).split('/')[0]
    t.match((await allocations(kv, 'bk')).get(`bk.${ip.replace(/\./g, '-')}`), { state: 'reserved', owner: { host: 'h7', mac: mac(700, 7) } })
    t.same(await pluginCall(driver.socketPath, 'IpamDriver.ReleaseAddress', { PoolID: 'bk', Address: ip }), { status: 200, type: 'application/vnd.docker.plugins.v1+json' })
    const after = (await allocations(kv, 'bk')).get(`bk.${ip.replace(/\./g, '-')}`)
    t.ok(after == null || (after.state === 'quarantined' && after.reason === 'released'), 'released (quarantined, or already free after the 400 ms quarantine)')
  })

  await t.test('an allocator killed while holding a lease: nothing answered is lost; its lease is overflowed, then taken over', async (t) => {
    // 10.240.3.0/27 in blocks of 16: block 0 has 14 addresses (.2-.15), block 1 has 15 (.16-.30).
    await addPool(kv, 'bc', { subnet: '10.240.3.0/27', blockSize: 16 })
    const a = await startAllocator(nats.url, { instanceId: 'alloc-a', blockLeaseMs: 2500 })
    t.teardown(() => a.close())
    const call = ipamClient(nc, 'h1')
    const first = await call('allocate', { v: 1, pool: 'bc', host: 'h1', mac: mac(0, 8) })
    const aBlock = Number(String(first.ip).split('.')[3]) < 16 ? 0 : 1
    t.equal((await block('bc', aBlock))?.lease?.holder, 'alloc-a')
    // Requests in flight when A dies; the agent's client retries them on B.
    const inflight = Array.from({ length: 6 }, async (_, i) => await call('allocate', { v: 1, pool: 'bc', host: 'h1', mac: mac(i + 1, 8) }))
    await sleep(2) // some answered by A, some cut off with it
    await a.kill()
    const b = await startAllocator(nats.url, { instanceId: 'alloc-b', blockLeaseMs: 2500 })
    t.teardown(() => b.close())
    const answers = [first, ...await Promise.all(inflight)]
    t.equal(new Set(answers.map((x) => x.ip)).size, 7, 'no duplicate across the crash')
    const recs = await allocations(kv, 'bc')
    for (const [i, x] of answers.entries()) t.equal(recs.get(`bc.${String(x.ip).replace(/\./g, '-')}`)?.owner.mac, mac(i, 8), `${String(x.ip)} stored`)
    t.equal(recs.size, 7, 'and nothing else')
    // B fills the other block, then overflows into A's (lease still live): A keeps the lease.
    const other = 1 - aBlock
    const room = (aBlock === 0 ? 15 : 14) - answers.filter((x) => (Number(String(x.ip).split('.')[3]) < 16 ? 0 : 1) === other).length
    for (let i = 0; i < room + 1; i++) await call('allocate', { v: 1, pool: 'bc', host: 'h1', mac: mac(100 + i, 8) })
    t.equal((await block('bc', other))?.lease?.holder, 'alloc-b')
    const lease = (await block('bc', aBlock))?.lease
    if (lease != null && lease.until > Date.now()) t.equal(lease.holder, 'alloc-a', 'overflow leaves a live lease alone')
    await sleep(Math.max(0, (lease?.until ?? 0) - Date.now()) + 100)
    await call('allocate', { v: 1, pool: 'bc', host: 'h1', mac: mac(200, 8) })
    t.equal((await block('bc', aBlock))?.lease?.holder, 'alloc-b', 'expired: taken over')
    const all = await allocations(kv, 'bc')
    t.equal(new Set([...all.values()].map((r) => r.ip)).size, all.size)
    t.equal(all.size, 7 + room + 2)
  })
})
