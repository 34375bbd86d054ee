// Renderer at scale: for 1,000 / 5,000 / 10,000 services × 5 endpoints, the
// time of a full render (model + templates), writing the files, nginx -t, a
// reload (SIGHUP → new generation served) and one endpoint change end to end
// (render, diff, write, nginx -t, reload). Then a burst of 5,000 endpoint
// changes within one second through NATS into a running renderer: how many
// reloads (goal ≤ 5).
//   node --import=@tapjs/typescript/import bench/render-scale.ts
//   env: BENCH_SIZES (default 1000,5000,10000), BENCH_ENDPOINTS (default 5)
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connect } from 'nats'
import { startNats, startNginx, freePort, waitFor } from '../test/harness/index.js'
import { ensureBuckets } from '../src/bus/index.js'
import { silentLogger, type EndpointRecord, type ServiceRecord } from '../src/core/index.js'
import {
  buildModel, TemplateSet, builtinTemplatesDir, ConfWriter, NginxController, STATUS_FILE, createRenderer,
} from '../src/renderer/index.js'
import { exampleHttpBody } from '../test/integration/renderer-fixtures.js'

const SIZES = (process.env.BENCH_SIZES ?? '1000,5000,10000').split(',').map(Number)
const PER = Number(process.env.BENCH_ENDPOINTS ?? 5)
const pexec = promisify(execFile)

const cid = (n: number): string => n.toString(16).padStart(12, '0').padEnd(64, 'a')
function endpoint (n: number, service: string, weight = 1): [string, EndpointRecord] {
  const rec: EndpointRecord = {
    v: 1, service, containerId: cid(n), ip: `10.${240 + ((n >> 16) & 15)}.${(n >> 8) & 255}.${n & 255}`, mac: '02:42:0a:f0:01:01',
    port: 80, network: 'mv0', state: 'running', health: 'none', weight, host: 'h1', instance: '000000000-abcdef', seq: n, updatedAt: 1,
  }
  return [`${service}.${rec.containerId}`, rec]
}

const ms = (t0: number): number => performance.now() - t0
const fmt = (v: number): string => `${v.toFixed(0).padStart(7)} ms`

async function scale (services: number): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'dg-scale-'))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody() })
  try {
    const statusPort = await freePort()
    const endpoints = new Map<string, EndpointRecord>()
    for (let s = 0; s < services; s++) for (let e = 0; e < PER; e++) {
      const [k, v] = endpoint(s * PER + e + 1, `svc-${s}`); endpoints.set(k, v)
    }
    const specs: Array<[string, ServiceRecord]> = []
    const templates = new TemplateSet([builtinTemplatesDir()])
    const writer = new ConfWriter(out)
    await writer.load()
    const ctl = new NginxController({ bin: '/usr/sbin/nginx', conf: nginx.confPath, prefix: `${nginx.prefix}/`, statusPort, reloadTimeoutMs: 60_000 })

    let t0 = performance.now()
    const { model } = buildModel(endpoints, specs)
    const files = templates.renderServices(model, statusPort)
    files.set(STATUS_FILE, templates.renderStatus(model, 1, statusPort))
    const renderMs = ms(t0)
    t0 = performance.now()
    await writer.apply(files, writer.diff(files))
    const writeMs = ms(t0)
    t0 = performance.now()
    await ctl.test()
    const testMs = ms(t0)
    t0 = performance.now()
    await ctl.reload(1)
    const reloadMs = ms(t0)

    // One endpoint changes (a new IP for one container): the whole path.
    t0 = performance.now()
    const [k, v] = endpoint(1, 'svc-0')
    endpoints.set(k, { ...v, ip: '10.255.0.1' })
    const next = buildModel(endpoints, specs).model
    const desired = templates.renderServices(next, statusPort)
    desired.set(STATUS_FILE, templates.renderStatus(next, 2, statusPort))
    const change = writer.diff(desired)
    const rerenderMs = ms(t0)
    await writer.apply(desired, change)
    await ctl.test()
    await ctl.reload(2)
    const oneMs = ms(t0)
    const rss = (await pexec('ps', ['-o', 'rss=', '-p', String(nginx.pid())])).stdout.trim()
    return `${String(services).padStart(6)} × ${PER}: render ${fmt(renderMs)} | write ${fmt(writeMs)} | nginx -t ${fmt(testMs)} | reload ${fmt(reloadMs)} | ` +
      `one change ${fmt(oneMs)} (render+diff ${rerenderMs.toFixed(0)} ms, ${change.previous.size} files) | master RSS ${Math.round(Number(rss) / 1024)} MiB`
  } finally {
    await nginx.stop()
    rmSync(out, { recursive: true, force: true })
  }
}

/** 5,000 endpoint changes over one second into a running renderer (1,000 services). */
async function burst (): Promise<string> {
  const nats = await startNats()
  const out = mkdtempSync(join(tmpdir(), 'dg-scale-burst-'))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody() })
  const nc = await connect({ servers: nats.url })
  const renderer = createRenderer({
    id: 'bench', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort: await freePort(), minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 60_000, announceIntervalMs: 60_000,
  }, { nc, log: silentLogger() })
  try {
    await ensureBuckets(nc)
    await renderer.start()
    await waitFor(() => renderer.generation > 0, { what: 'first reload', timeoutMs: 60_000 })
    await renderer.idle()
    const gen0 = renderer.generation
    const t0 = performance.now()
    const publisher = join(import.meta.dirname ?? '.', '..', 'test', 'integration', 'renderer-burst-publisher.mjs')
    const { stdout } = await pexec(process.execPath, [publisher, nats.url, '5000', '1000', '1000'])
    await waitFor(() => renderer.applied?.containers.length === 5000, { what: 'burst applied', timeoutMs: 120_000, intervalMs: 20 })
    await renderer.idle()
    return `burst: 5,000 endpoint changes over 1,000 services published in ${stdout.trim()} ms → ` +
      `${renderer.generation - gen0} reloads, all applied ${ms(t0).toFixed(0)} ms after the first change`
  } finally {
    await renderer.close(); await nc.close(); await nginx.stop(); await nats.stop()
    rmSync(out, { recursive: true, force: true })
  }
}

for (const n of SIZES) console.log(await scale(n))
console.log(await burst())
