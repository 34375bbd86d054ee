// Edge routes at scale (issue 16): 1,000 services × 2 routes each (one own
// host, one path under one of 50 shared hosts: 1,050 server blocks, 2,000
// location pairs) against the same 1,000 services without routes. Per run:
// render (route table + context + templates, a fresh template set so no
// cache helps), nginx -t, reload (SIGHUP → new generation served). Medians
// over BENCH_RUNS, side by side with the ratio.
//   npm run bench -- bench/routes-scale.ts
//   env: BENCH_SERVICES (default 1000), BENCH_RUNS (default 7), BENCH_MODE (lua|file, default lua)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNginx, freePort } from '../test/harness/index.js'
import type { EndpointRecord, ServiceRecord } from '../src/core/index.js'
import { buildModel, TemplateSet, builtinTemplatesDir, ConfWriter, NginxController, STATUS_FILE } from '../src/renderer/index.js'
import { buildRoutes } from '../src/renderer/routes.js'
import { labelsByContainer, serversContext } from '../src/renderer/route-view.js'
import { exampleHttpBody } from '../test/integration/renderer-fixtures.js'

const SERVICES = Number(process.env.BENCH_SERVICES ?? 1000)
const RUNS = Number(process.env.BENCH_RUNS ?? 7)
const MODE = (process.env.BENCH_MODE ?? 'lua') as 'lua' | 'file'

const median = (v: number[]): number => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const cid = (n: number): string => n.toString(16).padStart(12, '0').padEnd(64, 'a')

function records (routes: boolean): { services: ServiceRecord[], endpoints: EndpointRecord[] } {
  const services: ServiceRecord[] = []
  const endpoints: EndpointRecord[] = []
  for (let i = 0; i < SERVICES; i++) {
    const name = `svc-${i}`
    services.push({
      v: 1, version: 1, updatedAt: 1,
      spec: {
        name, image: 'img', replicas: 2, port: 80, network: 'mv0', resources: {}, env: {}, upstream: {}, placement: {},
        ...(routes ? { routes: [{ host: `${name}.example.com` }, { host: `shared-${i % 50}.example.com`, path: `/${name}`, stripPrefix: true }] } : {}),
      },
    })
    for (let e = 0; e < 2; e++) {
      const n = i * 2 + e + 1
      endpoints.push({
        v: 1, service: name, containerId: cid(n), ip: `10.${240 + ((n >> 16) & 7)}.${(n >> 8) & 255}.${n & 255}`, mac: '02:42:0a:f0:01:01',
        port: 80, network: 'mv0', state: 'running', health: 'none', weight: 1, host: 'h1', instance: '000000000-abcdef', seq: n, updatedAt: 1,
      })
    }
  }
  return { services, endpoints }
}

interface Times { render: number, test: number, reload: number, total: number, bytes: number }

async function variant (routes: boolean): Promise<Times> {
  const out = mkdtempSync(join(tmpdir(), 'dg-routes-bench-'))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: MODE === 'lua' })
  const statusPort = await freePort()
  const listen = `127.0.0.1:${nginx.port}`
  const { services, endpoints } = records(routes)
  const writer = new ConfWriter(out)
  await writer.load()
  const ctl = new NginxController({ bin: '/usr/sbin/nginx', conf: nginx.confPath, prefix: `${nginx.prefix}/`, statusPort, reloadTimeoutMs: 60_000 })
  const runs: Times[] = []
  try {
    for (let r = 1; r <= RUNS; r++) {
      let t0 = performance.now()
      const { model } = buildModel(endpoints.map((e) => [`${e.service}.${e.containerId}`, e]), services.map((s) => [s.spec.name, s]))
      const names = new Set(model.services.map((s) => s.name))
      const table = buildRoutes(services, endpoints, { exists: (n) => names.has(n) })
      const ctx = serversContext(model, table, labelsByContainer(endpoints), { listen, listenTls: '443', hostPrefix: false, statusPort })
      const templates = new TemplateSet([builtinTemplatesDir()], MODE)
      const files = templates.renderServices(model, statusPort, ctx)
      files.set(STATUS_FILE, templates.renderStatus(model, r, statusPort))
      const render = performance.now() - t0
      await writer.apply(files, writer.diff(files))
      t0 = performance.now()
      await ctl.test()
      const test = performance.now() - t0
      t0 = performance.now()
      await ctl.reload(r)
      const reload = performance.now() - t0
      const bytes = [...files.values()].reduce((n, s) => n + s.length, 0)
      if (r > 1) runs.push({ render, test, reload, total: render + test + reload, bytes }) // the first run warms the page cache
      if (routes && r === 1 && table.hosts.length !== SERVICES + Math.min(50, SERVICES)) throw new Error(`expected ${SERVICES + 50} hosts, got ${table.hosts.length}`)
    }
  } finally {
    ctl.close()
    await nginx.stop()
    rmSync(out, { recursive: true, force: true })
  }
  const pick = (k: keyof Times): number => median(runs.map((x) => x[k]))
  return { render: pick('render'), test: pick('test'), reload: pick('reload'), total: pick('total'), bytes: pick('bytes') }
}

const without = await variant(false)
const withRoutes = await variant(true)
const row = (label: string, k: keyof Times, unit = 'ms'): string => {
  const a = without[k]; const b = withRoutes[k]
  const f = (v: number): string => (unit === 'ms' ? `${v.toFixed(1)} ms` : `${(v / 1024).toFixed(0)} KiB`).padStart(12)
  return `${label.padEnd(22)}${f(a)}${f(b)}${`${(b / a).toFixed(2)}×`.padStart(9)}`
}
console.log(`routes-scale: ${SERVICES} services × 2 endpoints, ${MODE} mode, medians of ${RUNS - 1} runs (first run is warm-up)`)
console.log(`${''.padEnd(22)}${'no routes'.padStart(12)}${'2 routes/svc'.padStart(14)}${'ratio'.padStart(7)}`)
console.log(row('render', 'render'))
console.log(row('nginx -t', 'test'))
console.log(row('reload (confirmed)', 'reload'))
console.log(row('render+test+reload', 'total'))
console.log(row('config size', 'bytes', 'KiB'))
