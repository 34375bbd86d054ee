// A registry process holds ONE decoded mirror of the endpoint and host
// tables, whatever components run (issue 20, memory by size): ingest's store,
// placement (replica health, the scheduler's hosts), GET /v1/placement,
// lookup and the activity feed all read it. Each mirror is a KV watch, an
// ordered consumer on the bucket's stream: counting those counts the copies.
import t, { type Test } from 'tap'
import { connect } from 'nats'
import { startNats } from '../harness/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { silentLogger } from '../../src/core/index.js'

/** A fresh nats-server (a closed watch's consumer outlives it for a while) and a counter of a stream's consumers. */
async function server (t: Test): Promise<{ url: string, watches: (stream: string) => Promise<number> }> {
  const nats = await startNats()
  t.teardown(async () => { await nats.stop() })
  const nc = await connect({ servers: nats.url, noAsyncTraces: true })
  t.teardown(async () => { await nc.close() })
  const jsm = await nc.jetstreamManager()
  return { url: nats.url, watches: async (stream) => (await jsm.consumers.list(stream).next()).length }
}

t.test('default components: one watch of driftgate_endpoints and of driftgate_hosts', async (t) => {
  const { url, watches } = await server(t)
  const reg = createRegistry(resolveRegistryConfig({ nats: url, httpPort: 0, dnsPort: 0 }), { log: silentLogger() })
  t.teardown(async () => { await reg.close() })
  await reg.start()
  t.ok(reg.tables?.endpoints !== undefined, 'started with its components')
  t.equal(await watches('KV_driftgate_endpoints'), 1, 'endpoints mirrored once')
  t.equal(await watches('KV_driftgate_hosts'), 1, 'hosts mirrored once')
})

t.test('placement off: still one of each (GET /v1/placement reads the registry\'s mirrors)', async (t) => {
  const { url, watches } = await server(t)
  const reg = createRegistry(resolveRegistryConfig({ nats: url, httpPort: 0, dnsPort: 0, placement: false }), { log: silentLogger() })
  t.teardown(async () => { await reg.close() })
  await reg.start()
  t.equal(await watches('KV_driftgate_endpoints'), 1, 'endpoints mirrored once')
  t.equal(await watches('KV_driftgate_hosts'), 1, 'hosts mirrored once')
})
