// Docker's IPAM protocol bodies → allocator requests, with a scripted allocator.
import t from 'tap'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DriftgateError, ErrorCodes, silentLogger, type PoolRecord } from '../../src/core/index.js'
import { listenPlugin } from '../../src/agent/ipam/server.js'
import { IpamDriverLogic, GATEWAY_TYPE, MAC_OPTION } from '../../src/agent/ipam/driver.js'
import type { IpamCall } from '../../src/agent/ipam/client.js'

const pool: PoolRecord = { v: 1, name: 'mv0', subnet: '10.240.1.0/24', start: '10.240.1.10', end: '10.240.1.200', gateway: '10.240.1.1', reserved: ['10.240.1.5'], createdAt: 0 }
const MAC = '02:42:0a:f0:01:07'

function scripted (): { calls: Array<[string, any]>, call: IpamCall } {
  const calls: Array<[string, any]> = []
  const call: IpamCall = async (op, body: any) => {
    calls.push([op, body])
    if (op === 'pool') {
      if (body.subnet != null && body.subnet !== pool.subnet) throw new DriftgateError(ErrorCodes.NOT_FOUND, `no ipam pool has subnet ${String(body.subnet)}`)
      return { ok: true, pool, prefix: 24, gateway: pool.gateway }
    }
    if (op === 'allocate') return { ok: true, ip: body.ip ?? '10.240.1.42', prefix: 24 }
    return { ok: true }
  }
  return { calls, call }
}

t.test('handshake answers', async (t) => {
  const d = new IpamDriverLogic('h1', scripted().call)
  t.same(d.activate(), { Implements: ['IpamDriver'] })
  t.match(d.capabilities(), { RequiresMACAddress: true })
  t.match(d.addressSpaces(), { LocalDefaultAddressSpace: 'driftgate-local' })
  t.same(d.releasePool({ PoolID: 'mv0' }), {})
})

t.test('RequestPool', async (t) => {
  const s = scripted()
  const d = new IpamDriverLogic('h1', s.call)
  t.same(await d.requestPool({ AddressSpace: 'driftgate-local', Pool: '10.240.1.0/24', SubPool: '', Options: {}, V6: false }), { PoolID: 'mv0', Pool: '10.240.1.0/24', Data: {} })
  t.same(s.calls[0], ['pool', { v: 1, subnet: '10.240.1.0/24' }])
  await t.rejects(d.requestPool({ Pool: '10.240.2.0/24' }), { code: 'DG_NOT_FOUND' })
  await t.rejects(d.requestPool({}), { message: /needs --subnet/ })
  await t.rejects(d.requestPool({ Pool: 'fd00::/64', V6: true }), { message: /IPv4 pools only/ })
  await t.rejects(d.requestPool({ Pool: '10.240.1.0/24', SubPool: '10.240.1.0/25' }), { message: /--ip-range is not supported.*10\.240\.1\.10-10\.240\.1\.200/ })
})

t.test('RequestAddress and ReleaseAddress', async (t) => {
  const s = scripted()
  const d = new IpamDriverLogic('h1', s.call)
  t.same(await d.requestAddress({ PoolID: 'mv0', Address: '', Options: { RequestAddressType: GATEWAY_TYPE } }), { Address: '10.240.1.1/24', Data: {} })
  t.notOk(s.calls.some(([op]) => op === 'allocate'), 'the gateway is not allocated')
  await t.rejects(d.requestAddress({ PoolID: 'mv0', Address: '10.240.1.9', Options: { RequestAddressType: GATEWAY_TYPE } }), { message: /does not match/ })
  t.same(await d.requestAddress({ PoolID: 'mv0', Address: '', Options: { [MAC_OPTION]: MAC.toUpperCase() } }), { Address: '10.240.1.42/24', Data: {} })
  t.same(s.calls.at(-1), ['allocate', { v: 1, pool: 'mv0', host: 'h1', mac: MAC }], 'MAC lower-cased, owner = this host')
  t.same(await d.requestAddress({ PoolID: 'mv0', Address: '10.240.1.77', Options: { [MAC_OPTION]: MAC } }), { Address: '10.240.1.77/24', Data: {} })
  t.same(s.calls.at(-1), ['allocate', { v: 1, pool: 'mv0', host: 'h1', mac: MAC, ip: '10.240.1.77' }], '--ip passed on')
  t.same(await d.requestAddress({ PoolID: 'mv0', Address: '10.240.1.5', Options: {} }), { Address: '10.240.1.5/24', Data: {} }, 'aux address: reserved in the pool')
  await t.rejects(d.requestAddress({ PoolID: 'mv0', Address: '10.240.1.6', Options: {} }), { message: /needs the endpoint MAC/ })
  await t.rejects(d.requestAddress({ PoolID: 'mv0', Options: { [MAC_OPTION]: 'zz' } }), { message: /malformed/ })
  await t.rejects(d.requestAddress({ PoolID: 'mv0', Address: '300.1.1.1', Options: { [MAC_OPTION]: MAC } }), { message: /not an IPv4/ })
  await t.rejects(d.requestAddress({ PoolID: '', Options: { RequestAddressType: GATEWAY_TYPE } }), { message: /without a PoolID/ })

  const before = s.calls.length
  t.same(await d.releaseAddress({ PoolID: 'mv0', Address: '10.240.1.1' }), {}, 'gateway release: nothing to do')
  t.equal(s.calls.length, before)
  await d.releaseAddress({ PoolID: 'mv0', Address: '10.240.1.42' })
  t.same(s.calls.at(-1), ['release', { v: 1, pool: 'mv0', ip: '10.240.1.42', host: 'h1', mac: MAC }], 'release names the owner MAC')
  await d.releaseAddress({ PoolID: 'mv0', Address: '10.240.1.42' })
  t.same(s.calls.at(-1), ['release', { v: 1, pool: 'mv0', ip: '10.240.1.42', host: 'h1' }], 'unknown MAC: host only')
  await t.rejects(d.releaseAddress({ PoolID: 'mv0', Address: 'x' }), { message: /not an IPv4/ })
})

t.test('the plugin socket is created with mode 0660 (issue 15 hole 8)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-ipam-sock-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const socketPath = join(dir, 'plugins', 'dg.sock')
  const server = await listenPlugin({ socketPath, routes: {}, log: silentLogger() })
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  t.equal((statSync(socketPath).mode & 0o777).toString(8), '660', 'rw for owner and group only: no other user may ask for addresses')
})
