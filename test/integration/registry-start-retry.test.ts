// A registry starting while its nats-server does not answer (SIGSTOP: a
// server too busy to reply within the request timeout) keeps retrying its
// JetStream setup with backoff instead of failing, and comes up once the
// server answers again (SIGCONT); then it ingests as usual.
import t from 'tap'
import { connect } from 'nats'
import { setTimeout as sleep } from 'node:timers/promises'
import { startNats } from '../harness/index.js'
import { ScriptedAgent, waitUntil, counter, endpoint, cid } from './registry-fixtures.js'
import { isTransient } from '../../src/bus/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { defaultComponents } from '../../src/registry/components.js'
import { silentLogger } from '../../src/core/index.js'

t.test('transient and permanent JetStream errors are told apart', async (t) => {
  t.ok(isTransient({ code: 'TIMEOUT', message: 'TIMEOUT' }))
  t.ok(isTransient({ code: '503', message: '503' }))
  t.ok(isTransient({ message: 'JetStream system temporarily unavailable', api_error: { code: 503, err_code: 10008 } }))
  t.notOk(isTransient({ code: 'PERMISSIONS_VIOLATION', message: "Permissions Violation for Publish to '$JS.API.STREAM.CREATE.X'" }))
  t.notOk(isTransient({ message: 'stream name already in use with a different configuration', api_error: { code: 400, err_code: 10058 } }))
})

t.test('start survives a server that stops answering for 6 s', async (t) => {
  const nats = await startNats()
  t.teardown(async () => { try { process.kill(nats.pid, 'SIGCONT') } catch { /* already gone */ } await nats.stop() })
  const nc = await connect({ servers: nats.url })
  t.teardown(async () => { await nc.close() })

  const rnc = await connect({ servers: nats.url, noAsyncTraces: true })
  t.teardown(async () => { await rnc.close() })
  const reg = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0 }), { nc: rnc, log: silentLogger(), components: [] })
  t.teardown(async () => { await reg.close() })

  // Frozen before the registry's first JetStream request: each one times out (5 s).
  await nats.freeze()
  const t0 = Date.now()
  let failed: unknown
  const starting = reg.start().catch((err: unknown) => { failed = err; throw err })
  await sleep(6000)
  t.equal(failed, undefined, 'start has not given up while the server is frozen')
  nats.thaw()
  await starting
  t.ok(Date.now() - t0 >= 6000, 'it came up only after the server answered again')
  t.ok(await counter(reg, 'driftgate_registry_start_retries_total') >= 1, 'the retry was counted')

  const h1 = new ScriptedAgent(nc, 'h1')
  await h1.upsert(endpoint('web', 1))
  await waitUntil(() => reg.tables?.endpoints.get(`web.${cid(1)}`)?.value?.ip === endpoint('web', 1).ip, 10_000, 'event applied')
  t.pass('ingest works after the stall')
})

// Found at full size (docs/scaling.md "Found at full size"): a registry started
// while the cluster was saturated exited on a TIMEOUT from a sub-component's
// first watch (IPAM mirror, placement, lookup, activity), not from the core
// steps above. The server freezes right after the core steps, before the
// sub-components start; each of their JetStream requests times out once.
t.test('sub-components survive a server that stops answering while they start', async (t) => {
  const nats = await startNats()
  t.teardown(async () => { try { process.kill(nats.pid, 'SIGCONT') } catch { /* already gone */ } await nats.stop() })
  const rnc = await connect({ servers: nats.url, noAsyncTraces: true })
  t.teardown(async () => { await rnc.close() })
  let frozenAt = 0
  const freezer = {
    name: 'freezer',
    start: async () => {
      await nats.freeze()
      frozenAt = Date.now()
      const thaw = setTimeout(() => { try { nats.thaw() } catch { /* stopped by teardown */ } }, 6000)
      t.teardown(() => { clearTimeout(thaw) })
      return { close: async () => {} }
    },
  }
  const reg = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0 }), { nc: rnc, log: silentLogger(), components: [freezer, ...defaultComponents] })
  t.teardown(async () => { await reg.close() })
  await reg.start()
  t.ok(frozenAt > 0, 'the server was frozen during the sub-components\' start')
  t.ok(Date.now() - frozenAt >= 6000, 'the sub-components came up only after the server answered again')
  t.ok(reg.tables?.endpoints !== undefined, 'started')
})
