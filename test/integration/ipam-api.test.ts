// /v1/ipam routes (mounted as the lookup API mounts plug-ins, with its error
// handler and write-token check) and the `driftgate ipam` command against them.
import t from 'tap'
import Fastify from 'fastify'
import { connect } from 'nats'
import { startNats, waitFor } from '../harness/index.js'
import { Buckets, openBucket } from '../../src/bus/index.js'
import { silentLogger } from '../../src/core/index.js'
import { ipamRoutes } from '../../src/registry/ipam/index.js'
import { createAuth } from '../../src/registry/lookup/auth.js'
import { installErrorHandlers } from '../../src/registry/lookup/errors.js'
import { buildProgram } from '../../src/cli/program.js'
import { casCreate } from '../../src/registry/ipam/store.js'

const TOKEN = 'secret-token-1'

t.test('ipam HTTP API and CLI', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  const kv = await openBucket(nc, Buckets.ipam)
  const app = Fastify()
  const auth = createAuth({ apiToken: [TOKEN] })
  app.decorate('requireWrite', auth.requireWrite)
  installErrorHandlers(app)
  await app.register(ipamRoutes({ kv, log: silentLogger() }))
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const req = async (method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number, body: any }> => {
    const headers: Record<string, string> = body !== undefined ? { 'content-type': 'application/json' } : {}
    if (token != null) headers.authorization = `Bearer ${token}`
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    return { status: res.status, body: await res.json() }
  }

  await t.test('pools: create, idempotent re-add, conflicts, bad input', async (t) => {
    t.match(await req('PUT', '/v1/ipam/pools/mv0', { subnet: '10.240.1.0/24', range: '10.240.1.100-10.240.1.199', reserve: ['10.240.1.150'] }),
      { status: 201, body: { created: true, pool: { name: 'mv0', start: '10.240.1.100', end: '10.240.1.199', gateway: '10.240.1.1', reserved: ['10.240.1.150'] } } })
    t.match(await req('PUT', '/v1/ipam/pools/mv0', { subnet: '10.240.1.0/24', range: '10.240.1.100-10.240.1.199', reserve: ['10.240.1.150'] }),
      { status: 200, body: { created: false } })
    t.match(await req('PUT', '/v1/ipam/pools/mv0', { subnet: '10.240.1.0/24' }), { status: 409, body: { error: { code: 'DG_CONFLICT', message: /different configuration/ } } })
    await waitFor(async () => (await req('GET', '/v1/ipam/pools/mv0')).status === 200, { what: 'pool visible' })
    t.match(await req('PUT', '/v1/ipam/pools/other', { subnet: '10.240.1.0/24' }), { status: 409, body: { error: { message: /already belongs to pool "mv0"/ } } })
    t.match(await req('PUT', '/v1/ipam/pools/mv1', { subnet: '10.240.1.7/24' }), { status: 400, body: { error: { code: 'DG_VALIDATION', message: /did you mean 10\.240\.1\.0\/24/ } } })
    t.match(await req('PUT', '/v1/ipam/pools/mv1', { subnet: '10.240.3.0/24', bogus: 1 }), { status: 400 })
    t.match(await req('PUT', '/v1/ipam/pools/Bad_Name', { subnet: '10.240.3.0/24' }), { status: 400 })
    t.match(await req('PUT', '/v1/ipam/pools/mv1', { subnet: '10.240.3.0/24' }, null), { status: 401, body: { error: { code: 'DG_UNAUTHORIZED' } } })
    t.match(await req('PUT', '/v1/ipam/pools/mv1', { subnet: '10.240.3.0/24' }, 'wrong-token-x'), { status: 401 })
    t.match(await req('GET', '/v1/ipam/pools/mv1'), { status: 404 }, 'nothing created by refused requests')
  })

  await t.test('addresses and usage', async (t) => {
    const rec = { v: 1, pool: 'mv0', ip: '10.240.1.120', state: 'bound', owner: { host: 'h1', mac: '02:00:00:00:00:01', container: 'c'.repeat(64) }, since: Date.now() }
    await casCreate(kv, 'mv0.10-240-1-120', rec)
    await waitFor(async () => (await req('GET', '/v1/ipam/pools/mv0/addresses')).body.addresses?.length === 1, { what: 'address listed' })
    t.match((await req('GET', '/v1/ipam/pools')).body, { pools: [{ name: 'mv0', usage: { size: 99, bound: 1, reserved: 0, quarantined: 0 } }] })
    t.match(await req('DELETE', '/v1/ipam/pools/mv0'), { status: 409, body: { error: { message: /still holds 1 address/ } } })
    t.match(await req('GET', '/v1/ipam/pools/nope/addresses'), { status: 404 })
  })

  await t.test('the driftgate ipam command', async (t) => {
    const out: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    const run = async (...args: string[]): Promise<string> => {
      out.length = 0
      process.stdout.write = ((s: string) => { out.push(s); return true }) as typeof process.stdout.write
      try { await buildProgram().exitOverride().parseAsync(['node', 'driftgate', 'ipam', ...args, '--api', base]) } finally { process.stdout.write = write }
      return out.join('')
    }
    t.match(await run('pool', 'add', 'lab', '--subnet', '10.240.5.0/24', '--gateway', '10.240.5.254', '--reserve', '10.240.5.10,10.240.5.11', '--token', TOKEN),
      /pool lab created: 10\.240\.5\.0\/24, range 10\.240\.5\.1-10\.240\.5\.254, gateway 10\.240\.5\.254/)
    await waitFor(async () => (await req('GET', '/v1/ipam/pools/lab')).status === 200, { what: 'lab visible' })
    const ls = await run('pool', 'ls')
    t.match(ls, /NAME\s+SUBNET\s+RANGE/)
    t.match(ls, /lab\s+10\.240\.5\.0\/24\s+10\.240\.5\.1-10\.240\.5\.254\s+10\.240\.5\.254\s+2\s+251/)
    t.match(await run('ls', 'mv0'), /10\.240\.1\.120\s+bound\s+h1\s+02:00:00:00:00:01\s+cccccccccccc/)
    t.match(await run('ls', 'lab'), /no address in use/)
    await t.rejects(run('pool', 'add', 'lab2', '--subnet', '10.240.6.0/24'), { message: /missing bearer token/ })
    await t.rejects(run('pool', 'add', 'lab2', '--subnet', '10.240.6.0/33', '--token', TOKEN), { message: /subnet/ })
    t.match(await run('pool', 'rm', 'lab', '--token', TOKEN), /pool lab deleted/)
  })
})
