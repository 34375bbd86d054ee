// The IPAM allocator (2-3 instances, real nats-server) driven through the
// Docker plugin socket exactly as dockerd drives it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, sleep, waitFor } from '../harness/index.js'
import { Buckets, encodeJson, openBucket } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { startIpamDriver, bindByMac, ipamClient } from '../../src/agent/ipam/index.js'
import { addPool, allocations, closeAgents, mac, pluginCall, startAllocator, type TestAllocator } from './ipam-fixtures.js'

const QUARANTINE = 1500
const GRACE = 1000

t.test('ipam through the driver socket', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  const kv = await openBucket(nc, Buckets.ipam)
  const cfg = { quarantineMs: QUARANTINE, reserveGraceMs: GRACE, sweepMs: 200 }
  const allocs: TestAllocator[] = []
  for (let i = 0; i < 3; i++) allocs.push(await startAllocator(nats.url, cfg))
  t.teardown(async () => { for (const a of allocs) await a.close() })
  const dir = mkdtempSync(join(tmpdir(), 'dg-ipam-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const driver = await startIpamDriver({ nc, host: 'h1', name: 'dgtest', socketDir: dir, log: silentLogger(), metrics: new Registry() })
  t.teardown(async () => { closeAgents(); await driver.close() })
  const call = async (m: string, b: unknown = {}): Promise<Record<string, any>> => await pluginCall(driver.socketPath, m, b)
  const ask = async (n: number, pool: string, extra: Record<string, string> = {}, address = ''): Promise<Record<string, any>> =>
    await call('IpamDriver.RequestAddress', { PoolID: pool, Address: address, Options: { 'com.docker.network.endpoint.macaddress': mac(n, 1), ...extra } })

  await addPool(kv, 'mv0', { subnet: '10.240.1.0/24', range: '10.240.1.10-10.240.1.200' })
  await addPool(kv, 'tiny', { subnet: '10.240.2.0/29' })
  await addPool(kv, 'big', { subnet: '10.240.4.0/22' })

  await t.test('handshake', async (t) => {
    t.match(await call('Plugin.Activate'), { status: 200, type: 'application/vnd.docker.plugins.v1+json', Implements: ['IpamDriver'] })
    t.match(await call('IpamDriver.GetCapabilities'), { RequiresMACAddress: true })
    t.match(await call('IpamDriver.GetDefaultAddressSpaces'), { LocalDefaultAddressSpace: String, GlobalDefaultAddressSpace: String })
    t.match(await call('IpamDriver.Nope'), { status: 404, Err: /unknown plugin call/, Error: /unknown plugin call/ })
  })

  await t.test('RequestPool maps a subnet to its pool', async (t) => {
    await waitFor(async () => (await call('IpamDriver.RequestPool', { Pool: '10.240.1.0/24' })).PoolID === 'mv0', { what: 'pool in mirror' })
    t.match(await call('IpamDriver.RequestPool', { AddressSpace: 'driftgate-local', Pool: '10.240.1.0/24', Options: {}, V6: false }),
      { PoolID: 'mv0', Pool: '10.240.1.0/24', Data: {} })
    t.match(await call('IpamDriver.RequestPool', { Pool: '10.240.9.0/24' }), { Err: /no ipam pool has subnet 10\.240\.9\.0\/24: create one with: driftgate ipam pool add/ })
    t.match(await call('IpamDriver.RequestPool', { Pool: '' }), { Err: /needs --subnet/ })
    t.match(await call('IpamDriver.RequestPool', { Pool: 'fd00::/64', V6: true }), { Err: /IPv4 pools only/ })
    t.match(await call('IpamDriver.RequestPool', { Pool: '10.240.1.0/24', SubPool: '10.240.1.0/25' }), { Err: /--ip-range is not supported/ })
    t.same(await call('IpamDriver.ReleasePool', { PoolID: 'mv0' }), { status: 200, type: 'application/vnd.docker.plugins.v1+json' })
  })

  await t.test('gateway request: the pool gateway, nothing allocated', async (t) => {
    const before = (await allocations(kv, 'mv0')).size
    const gw = await call('IpamDriver.RequestAddress', { PoolID: 'mv0', Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } })
    t.match(gw, { Address: '10.240.1.1/24' })
    t.match(await call('IpamDriver.RequestAddress', { PoolID: 'mv0', Address: '10.240.1.9', Options: { RequestAddressType: 'com.docker.network.gateway' } }),
      { Err: /does not match pool mv0's gateway 10\.240\.1\.1/ })
    t.same(await call('IpamDriver.ReleaseAddress', { PoolID: 'mv0', Address: '10.240.1.1' }), { status: 200, type: 'application/vnd.docker.plugins.v1+json' })
    t.equal((await allocations(kv, 'mv0')).size, before)
    t.match(await call('IpamDriver.RequestAddress', { PoolID: 'mv0', Address: '', Options: {} }), { Err: /needs the endpoint MAC/, Error: /needs the endpoint MAC/ }, 'failures carry Error (read by libnetwork) and Err')
  })

  await t.test('concurrent requests from 3 allocators: distinct addresses, owners recorded', async (t) => {
    const answers = await Promise.all(Array.from({ length: 120 }, async (_, i) => await ask(i, 'mv0')))
    t.equal(answers.filter((a) => a.Err != null).length, 0, 'no errors')
    const ips = answers.map((a) => a.Address as string)
    t.ok(ips.every((a) => /^10\.240\.1\.\d+\/24$/.test(a)), 'CIDR form with the pool prefix')
    t.equal(new Set(ips).size, 120, '120 distinct addresses')
    const recs = await allocations(kv, 'mv0')
    t.equal(recs.size, 120, `120 records: ${[...recs.keys()].slice(0, 3).join(' ')}`)
    for (let i = 0; i < 120; i++) {
      const ip = ips[i].split('/')[0]
      const n = Number(ip.split('.')[3])
      if (n < 10 || n > 200) t.fail(`${ip} outside the range`)
      const r = recs.get(`mv0.${ip.replace(/\./g, '-')}`)
      if (r?.state !== 'reserved' || r.owner.mac !== mac(i, 1) || r.owner.host !== 'h1') t.fail(`record of ${ip}: ${JSON.stringify(r)}`)
    }
    t.match(await ask(7, 'mv0'), { Address: ips[7] }, 'same MAC again (a retried request): the same address')
    const call = ipamClient(nc, 'h1')
    const same = await Promise.all(Array.from({ length: 6 }, async () => await call('allocate', { v: 1, pool: 'mv0', host: 'h1', mac: mac(400, 1) })))
    t.equal(new Set(same.map((r) => r.ip)).size, 1, 'copies of one request racing on 3 instances: one address')
    t.equal([...(await allocations(kv, 'mv0')).values()].filter((r) => r.owner.mac === mac(400, 1)).length, 1, 'and one record')
  })

  /** A free address of mv0's range (the dynamic allocations above are spread by hash). */
  const freeInRange = async (): Promise<string> => {
    const held = await allocations(kv, 'mv0')
    for (let n = 200; n >= 10; n--) if (!held.has(`mv0.10-240-1-${n}`)) return `10.240.1.${n}`
    throw new Error('mv0 full')
  }

  await t.test('static --ip: honoured when free, refused when taken or outside the range', async (t) => {
    const ip = await freeInRange()
    t.match(await ask(500, 'mv0', {}, ip), { Address: `${ip}/24` }, 'inside the range')
    t.match(await ask(501, 'mv0', {}, ip), { Err: new RegExp(`${ip.replace(/\./g, '\\.')} is already in use in pool mv0 \\(reserved, host h1\\).*choose another --ip`) })
    const before = (await allocations(kv, 'mv0')).size
    t.match(await ask(504, 'mv0', {}, '10.240.1.250'), { Err: /10\.240\.1\.250 is outside the range 10\.240\.1\.10-10\.240\.1\.200 of pool mv0/ },
      'inside the subnet but outside the range: refused (issue 15 hole 8)')
    t.equal((await allocations(kv, 'mv0')).size, before, 'nothing allocated')
    t.match(await ask(502, 'mv0', {}, '10.240.1.1'), { Err: /is the gateway/ })
    t.match(await ask(503, 'mv0', {}, '10.240.7.1'), { Err: /outside pool mv0/ })
  })

  await t.test('release, quarantine, replayed release', async (t) => {
    const ip = await freeInRange()
    t.match(await ask(600, 'mv0', {}, ip), { Address: `${ip}/24` })
    t.same(await call('IpamDriver.ReleaseAddress', { PoolID: 'mv0', Address: ip }), { status: 200, type: 'application/vnd.docker.plugins.v1+json' })
    const key = `mv0.${ip.replace(/\./g, '-')}`
    t.match((await allocations(kv, 'mv0')).get(key), { state: 'quarantined', reason: 'released', owner: { mac: mac(600, 1) } })
    t.match(await ask(601, 'mv0', {}, ip), { Err: /already in use.*quarantined/ }, 'quarantine honoured')
    await sleep(QUARANTINE + 600)
    t.notOk((await allocations(kv, 'mv0')).has(key), 'free after the quarantine')
    t.match(await ask(601, 'mv0', {}, ip), { Address: `${ip}/24` }, 'given to a new owner')
    const replay = ipamClient(nc, 'h1')
    await t.rejects(replay('release', { v: 1, pool: 'mv0', ip, host: 'h1', mac: mac(600, 1) }), { code: 'DG_IPAM_NOT_OWNER', message: /not the owner/ },
      'the old owner\'s release, replayed, is refused')
    await t.rejects(ipamClient(nc, 'h2')('release', { v: 1, pool: 'mv0', ip, host: 'h2', mac: mac(601, 1) }), { code: 'DG_IPAM_NOT_OWNER' }, 'another host')
    t.match((await allocations(kv, 'mv0')).get(key), { state: 'reserved', owner: { mac: mac(601, 1) } }, 'unchanged')
    t.match(await replay('release', { v: 1, pool: 'mv0', ip: '10.240.1.251', host: 'h1' }), { ok: true, noop: true }, 'release of a free address: no-op')
  })

  await t.test('exhausted pool: a clear error', async (t) => {
    const got = await Promise.all([1, 2, 3, 4, 5].map(async (n) => await ask(700 + n, 'tiny')))
    t.equal(new Set(got.map((g) => g.Address)).size, 5, '/29 minus gateway: 5 addresses')
    t.match(await ask(799, 'tiny'), { Err: /pool tiny is exhausted: all 5 addresses of 10\.240\.2\.1-10\.240\.2\.6/ })
    t.match(await ask(799, 'nosuch'), { Err: /ipam pool "nosuch".*not found/ })
  })

  await t.test('bind, and leaks collected from snapshots', async (t) => {
    const bound = (await ask(900, 'mv0')).Address.split('/')[0] as string
    const reserved = (await ask(901, 'mv0')).Address.split('/')[0] as string
    const cid = '9'.repeat(64)
    t.match(await bindByMac(nc, { host: 'h1', mac: mac(900, 1), ip: bound, containerId: cid }), { ok: true, record: { state: 'bound' } })
    t.match(await bindByMac(nc, { host: 'h1', mac: mac(900, 1), ip: bound, containerId: cid }), { ok: true, noop: true }, 'idempotent')
    await t.rejects(bindByMac(nc, { host: 'h1', mac: mac(999, 1), ip: reserved, containerId: cid }), { code: 'DG_IPAM_NOT_OWNER' })
    const k = (ip: string): string => `mv0.${ip.replace(/\./g, '-')}`
    const snapshot = (containers: string[]): void => {
      const now = Date.now()
      nc.publish('driftgate.snapshot.h1', encodeJson({ v: 1, host: 'h1', instance: '0000000aa-abcdef', seq: now, time: now, sentAt: now, endpoints: [], containers }))
    }
    nc.publish('driftgate.snapshot.h1', encodeJson({ junk: true }))
    await sleep(GRACE + 100)
    snapshot([cid])
    await waitFor(async () => (await allocations(kv, 'mv0')).get(k(reserved))?.state === 'quarantined', { what: 'reserved past grace released' })
    t.match((await allocations(kv, 'mv0')).get(k(reserved)), { reason: 'reserve-expired' })
    t.match((await allocations(kv, 'mv0')).get(k(bound)), { state: 'bound' }, 'listed container kept')
    snapshot([])
    await waitFor(async () => (await allocations(kv, 'mv0')).get(k(bound))?.missed === 1, { what: 'first miss counted' })
    t.match((await allocations(kv, 'mv0')).get(k(bound)), { state: 'bound' }, 'one miss is not enough')
    snapshot([])
    await waitFor(async () => (await allocations(kv, 'mv0')).get(k(bound))?.state === 'quarantined', { what: 'second miss releases' })
    t.match((await allocations(kv, 'mv0')).get(k(bound)), { reason: 'container-gone' })
  })

  await t.test('one allocator killed with requests in flight: every request answered, no duplicate', async (t) => {
    const pending = Array.from({ length: 300 }, async (_, i) => await ask(2000 + i, 'big'))
    await sleep(5)
    await allocs[0].kill()
    const answers = await Promise.all(pending)
    t.equal(answers.filter((a) => a.Err != null).length, 0, `no errors: ${answers.find((a) => a.Err != null)?.Err as string ?? ''}`)
    t.equal(new Set(answers.map((a) => a.Address)).size, 300, '300 distinct addresses')
    const recs = await allocations(kv, 'big')
    t.equal(recs.size, 300, 'exactly 300 records: a retried request did not leak a second address')
    t.same(new Set([...recs.values()].map((r) => `${r.ip as string}/22`)), new Set(answers.map((a) => a.Address)), 'records match the answers')
    const owners = new Set([...recs.values()].map((r) => r.owner.mac))
    t.equal(owners.size, recs.size, 'no owner holds two addresses')
  })

  await t.test('registry unreachable: RequestAddress fails within 5 s, nothing allocated', async (t) => {
    for (const a of allocs) await a.close()
    const before = (await allocations(kv, 'mv0')).size
    const started = Date.now()
    const r = await ask(3000, 'mv0')
    const took = Date.now() - started
    t.match(r, { Err: /driftgate registry unreachable: no IPAM allocator answered on driftgate\.ipam\.h1\.(pool|allocate) within 5 s/ })
    t.ok(took <= 5000, `answered in ${took} ms`)
    t.equal((await allocations(kv, 'mv0')).size, before)
  })
})
