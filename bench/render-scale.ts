// Renderer at scale: for 1,000 / 5,000 / 10,000 services × 5 endpoints, the
// time of a full render (model + templates), writing the files, nginx -t, a
// reload (SIGHUP → new generation served) and one endpoint change end to end
// (render, diff, write, nginx -t, reload): file mode. Side by side, lua mode
// through a running renderer: one endpoint change from the KV put to the
// first request served by the new endpoint (p50/p99 over BENCH_MOVES), and
// the shared dict's use. Then a burst of 5,000 endpoint changes within one
// second through NATS into a running renderer, in both modes: reloads, and
// how long after the last change all were applied.
//   npm run bench -- bench/render-scale.ts
//   env: BENCH_SIZES (default 1000,5000,10000), BENCH_ENDPOINTS (default 5),
//   BENCH_MOVES (default 30), BENCH_MODES (default file,lua)
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
import { closeBackendLan, exampleHttpBody, startBackend } from '../test/integration/renderer-fixtures.js'
import { encodeJson } from '../src/bus/index.js'
import { Agent, request } from 'node:http'

const SIZES = (process.env.BENCH_SIZES ?? '1000,5000,10000').split(',').map(Number)
const PER = Number(process.env.BENCH_ENDPOINTS ?? 5)
const MOVES = Number(process.env.BENCH_MOVES ?? 30)
const MODES = (process.env.BENCH_MODES ?? 'file,lua').split(',')
function pct (values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 })
/** One GET through nginx on a kept-alive connection: the body. */
const fetchBody = async (port: number, host: string): Promise<string> => await new Promise((resolve) => {
  const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: keepAlive }, (res) => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (c: string) => { body += c })
    res.on('end', () => resolve(body))
  })
  req.on('error', () => resolve(''))
  req.end()
})
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

/**
 * Lua mode at `services` × PER: the state is loaded through NATS, then one
 * service (`probe`, one endpoint) moves between two loopback backends MOVES
 * times; each move is timed from the KV put to the first request through
 * nginx answered by the new backend.
 */
async function luaScale (services: number): Promise<string> {
  const nats = await startNats()
  const out = mkdtempSync(join(tmpdir(), 'dg-scale-lua-'))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: true })
  const nc = await connect({ servers: nats.url })
  const backends = [await startBackend('A'), await startBackend('B')]
  const statusPort = await freePort()
  const renderer = createRenderer({
    id: 'bench', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort, minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 120_000, announceIntervalMs: 60_000, mode: 'lua',
  }, { nc, log: silentLogger() })
  try {
    const kv = await ensureBuckets(nc)
    await renderer.start()
    await waitFor(() => renderer.generation > 0, { what: 'first apply', timeoutMs: 60_000 })
    const publisher = join(import.meta.dirname ?? '.', '..', 'test', 'integration', 'renderer-burst-publisher.mjs')
    let t0 = performance.now()
    await pexec(process.execPath, [publisher, nats.url, String(services * PER), '1000', String(services)])
    const probe = endpoint(9_000_000, 'probe')
    await kv.endpoints.put(probe[0], encodeJson({ ...probe[1], ip: backends[0].host, port: backends[0].port }))
    await waitFor(() => renderer.applied?.containers.length === services * PER + 1, { what: 'state loaded', timeoutMs: 600_000, intervalMs: 50 })
    await renderer.idle()
    const loadMs = ms(t0)
    await waitFor(async () => (await fetchBody(nginx.port, 'probe')) === 'A\n', { what: 'probe served' })
    const reloads0 = renderer.generation
    const text0 = await renderer.registry.metrics()
    const served: number[] = []
    for (let i = 1; i <= MOVES; i++) {
      const to = backends[i % 2]
      t0 = performance.now()
      await kv.endpoints.put(probe[0], encodeJson({ ...probe[1], ip: to.host, port: to.port, seq: i }))
      // poll through nginx until the new backend answers (bounded)
      for (let k = 0; k < 100_000; k++) if ((await fetchBody(nginx.port, 'probe')) === `${i % 2 === 0 ? 'A' : 'B'}\n`) break
      served.push(ms(t0))
    }
    const reloadCount = (text: string): number => [...text.matchAll(/^driftgate_renderer_reloads_total\{result="ok"[^}]*\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0)
    const reloads = reloadCount(await renderer.registry.metrics()) - reloadCount(text0)
    const stats = await renderer.registry.metrics()
    const avg = (name: string, text: string): number => {
      const sum = Number(new RegExp(`^${name}_sum(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
      const count = Number(new RegExp(`^${name}_count(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
      return count === 0 ? NaN : sum / count * 1000
    }
    const delta = (name: string): number => {
      const c = (t: string, k: string): number => Number(new RegExp(`^${name}_${k}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(t)?.[1] ?? 0)
      return (c(stats, 'sum') - c(text0, 'sum')) / Math.max(1, c(stats, 'count') - c(text0, 'count')) * 1000
    }
    void avg
    const dict = /^driftgate_renderer_nginx_dict_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(stats)?.[1]
    void reloads0
    return `${String(services).padStart(6)} × ${PER} lua: state loaded ${fmt(loadMs)} | one endpoint change served p50 ${pct(served, 50).toFixed(1)} ms, ` +
      `p99 ${pct(served, 99).toFixed(1)} ms (${MOVES} moves, ${reloads} reloads; renderer's share, KV change seen → pushed, mean ${delta('driftgate_renderer_convergence_seconds').toFixed(1)} ms, ` +
      `push mean ${delta('driftgate_renderer_push_duration_seconds').toFixed(1)} ms) | shared dict ${(Number(dict) / 1048576).toFixed(1)} MiB used`
  } finally {
    await renderer.close(); await nc.close(); await nginx.stop(); await nats.stop()
    await Promise.all(backends.map(async (b) => await b.close()))
    await closeBackendLan()
    rmSync(out, { recursive: true, force: true })
  }
}

/** 5,000 endpoint changes over one second into a running renderer (1,000 services). */
async function burst (mode: 'file' | 'lua'): Promise<string> {
  const nats = await startNats()
  const out = mkdtempSync(join(tmpdir(), 'dg-scale-burst-'))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: mode === 'lua' })
  const nc = await connect({ servers: nats.url })
  const renderer = createRenderer({
    id: 'bench', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort: await freePort(), minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 60_000, announceIntervalMs: 60_000, mode,
  }, { nc, log: silentLogger() })
  try {
    await ensureBuckets(nc)
    await renderer.start()
    await waitFor(() => renderer.generation > 0, { what: 'first reload', timeoutMs: 60_000 })
    await renderer.idle()
    const publisher = join(import.meta.dirname ?? '.', '..', 'test', 'integration', 'renderer-burst-publisher.mjs')
    // the 1,000 services exist first (their upstreams: one reload in lua mode), then the burst moves every endpoint
    await pexec(process.execPath, [publisher, nats.url, '5000', '200', '1000'])
    await waitFor(() => renderer.applied?.containers.length === 5000, { what: 'state loaded', timeoutMs: 120_000, intervalMs: 20 })
    await renderer.idle()
    const reloads = async (): Promise<number> => [...(await renderer.registry.metrics()).matchAll(/^driftgate_renderer_reloads_total\{result="ok"[^}]*\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0)
    const reloads0 = await reloads()
    const rev0 = renderer.applied?.endpointsRevision ?? 0
    const t0 = performance.now()
    const { stdout } = await pexec(process.execPath, [publisher, nats.url, '5000', '1000', '1000', '7'])
    const lastAt = t0 + Number(stdout.trim())
    await waitFor(() => (renderer.applied?.endpointsRevision ?? 0) >= rev0 + 5000, { what: 'burst applied', timeoutMs: 120_000, intervalMs: 5 })
    const doneAt = performance.now()
    await renderer.idle()
    return `burst (${mode}): 5,000 endpoint changes over 1,000 services published in ${stdout.trim()} ms → ` +
      `${(await reloads()) - reloads0} reloads, all applied ${(doneAt - lastAt).toFixed(0)} ms after the last change`
  } finally {
    await renderer.close(); await nc.close(); await nginx.stop(); await nats.stop()
    rmSync(out, { recursive: true, force: true })
  }
}

for (const n of SIZES) {
  if (MODES.includes('file')) console.log(await scale(n))
  if (MODES.includes('lua')) console.log(await luaScale(n))
}
for (const mode of MODES) console.log(await burst(mode as 'file' | 'lua'))
