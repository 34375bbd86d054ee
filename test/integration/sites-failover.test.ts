// Failover upstreams across two sites (issue 21), with real nats-servers
// joined by a leaf link, site A's registry (it keeps the mirror of site B's
// endpoints), and site A's renderer in front of a real nginx — file mode
// (`backup` peers) and lua mode (the same rule in balancer.lua). A load loop
// against A's nginx: while A's only replica is gone, B's answers; no request
// fails (its dead peer costs a retry on the backup, not an error); when A's
// replica comes back, A serves again.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { startNatsSites, startNginx, freePort, waitFor } from '../harness/index.js'
import { Buckets, encodeJson, openBucket } from '../../src/bus/index.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { sitesComponent } from '../../src/registry/components.js'
import { silentLogger, type ServiceRecord } from '../../src/core/index.js'
import { createRenderer, type Renderer } from '../../src/renderer/index.js'
import { ep, svc } from '../unit/renderer-fixtures.js'
import { closeBackendLan, exampleHttpBody, get, startBackend } from './renderer-fixtures.js'

const sites = await startNatsSites()
const ncA: NatsConnection = await connect({ servers: sites.a.url })
const ncB: NatsConnection = await connect({ servers: sites.b.url })
const regA = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, site: 'a', remoteSite: ['b'], placement: false }),
  { nc: ncA, log: silentLogger(), components: [sitesComponent] })
await regA.start()
// Site B's registry exports its endpoint table (driftgate_export_endpoints, plain puts): that is what A mirrors.
const regB = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, site: 'b', remoteSite: ['a'], placement: false }),
  { nc: ncB, log: silentLogger(), components: [sitesComponent] })
await regB.start()
const [epA, svcA, epB] = await Promise.all([openBucket(ncA, Buckets.endpoints), openBucket(ncA, Buckets.services), openBucket(ncB, Buckets.endpoints)])
const backendB = await startBackend('site-b')
let backendA = await startBackend('site-a')
const portA = backendA.port
t.teardown(async () => {
  await backendA.close(); await backendB.close()
  await closeBackendLan()
  await regA.close(); await regB.close(); await ncA.close(); await ncB.close()
  await sites.stop()
})

const [kA, recA] = ep('web', 1, { ip: backendA.host, port: portA, host: 'ha1' })
const [kB, recB] = ep('web', 101, { ip: backendB.host, port: backendB.port, host: 'hb1' })
const [, base] = svc('web', { maxFails: 1, failTimeout: '2s' })
const spec: ServiceRecord = { ...base, spec: { ...base.spec, failover: { sites: ['b'], mode: 'backup' } } }
await epB.put(kB, encodeJson(recB))
await svcA.put('web', encodeJson(spec))

for (const mode of ['file', 'lua'] as const) {
  t.test(`${mode} mode: site A's nginx answers from site B while A has no live replica, then from A again`, async (t) => {
    const out = mkdtempSync(join(tmpdir(), `dg-sites-${mode}-`))
    const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: mode === 'lua' })
    const statusPort = await freePort()
    const renderer: Renderer = createRenderer({
      id: `edge-${mode}`, prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`,
      nginxBin: '/usr/sbin/nginx', statusPort, minWaitMs: 20, maxWaitMs: 500, mode,
      reloadTimeoutMs: 5000, announceIntervalMs: 60_000,
    }, { nc: ncA, log: silentLogger() })
    t.teardown(async () => { await renderer.close(); await nginx.stop(); rmSync(out, { recursive: true, force: true }) })
    await renderer.start()
    await epA.put(kA, encodeJson(recA))
    const answer = async (): Promise<string> => { const r = await get(nginx.port, 'web.example.com'); return r.status === 200 ? r.body.trim() : `${r.status} ${r.error ?? r.body.trim()}` }
    await waitFor(async () => await answer() === 'site-a', { what: 'A serves web', timeoutMs: 15_000 })
    // the renderer has site B's endpoints (from the mirror site A's registry keeps) and applied them as backups
    const remote = (renderer as unknown as { remote: { endpoints: (site: string, service: string) => Iterable<unknown> } }).remote
    await waitFor(() => [...remote.endpoints('b', 'web')].length === 1, { what: 'renderer sees site B\'s endpoint' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    await renderer.idle()
    await nginx.settled()
    if (mode === 'file') t.match(readFileSync(join(out, 'web.conf'), 'utf8'), `server ${backendB.host}:${backendB.port} weight=1 max_fails=1 fail_timeout=2s backup;`)

    // Load loop; A's replica dies (connection refused at once), its record
    // leaves a second later (the agent's event), it comes back later still.
    const seen: string[] = []
    let stop = false
    const loop = (async () => { while (!stop) seen.push(await answer()) })()
    await new Promise((resolve) => setTimeout(resolve, 300))
    await backendA.close()
    const diedAt = seen.length
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await epA.delete(kA)
    await waitFor(() => renderer.applied?.containers.includes(recB.containerId) === true && !renderer.applied.containers.includes(recA.containerId),
      { what: 'B routed as the primary set', timeoutMs: 10_000 }).catch((err) => { t.comment(JSON.stringify(renderer.applied), readFileSync(join(out, 'web.conf'), 'utf8')); throw err })
    if (mode === 'file') t.match(readFileSync(join(out, 'web.conf'), 'utf8'), /site b's \(failover\)/)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const failedOverUntil = seen.length
    backendA = await startBackend('site-a', portA)
    await epA.put(kA, encodeJson(recA))
    await waitFor(() => seen.slice(-5).every((s) => s === 'site-a') && seen.length > failedOverUntil + 5, { what: 'A serves again', timeoutMs: 15_000 })
    stop = true
    await loop
    const during = seen.slice(diedAt, failedOverUntil)
    const failed = seen.filter((s) => s !== 'site-a' && s !== 'site-b')
    t.comment(`${mode}: ${seen.length} requests, ${during.length} while A had none live, ${failed.length} failed`)
    t.ok(during.length > 20, 'the loop ran while A had no live replica')
    t.ok(during.slice(-10).every((s) => s === 'site-b'), 'site B answered while A had none live')
    t.same(failed, [], 'no request failed: a dead local peer costs a retry on the backup, never an error')
    const after: string[] = []
    for (let i = 0; i < 10; i++) after.push(await answer())
    if (!after.every((s) => s === 'site-a')) {
      t.comment(`answers after the loop: ${after.join(' ')}; last of the loop: ${seen.slice(-8).join(' ')}`)
      if (mode === 'file') t.comment(readFileSync(join(out, 'web.conf'), 'utf8'))
      t.comment(readFileSync(nginx.errorLog, 'utf8').split('\n').slice(-30).join('\n'))
      t.comment(JSON.stringify(renderer.applied))
    }
    t.same(after, Array(10).fill('site-a'), 'back to the local replica')
  })
}
