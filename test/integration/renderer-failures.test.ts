// Failures that must not look like something else, and the start order
// operators use: nginx -t whose helper crashes is reported as such (not as a
// rejected config) and retried; a renderer started before nginx writes the
// validated files, says it skipped the reload, and an nginx started later
// from them works (file and lua mode), even when the operator's own config
// names an upstream.
import t from 'tap'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { startNats, startNginx, freePort, waitFor } from '../harness/index.js'
import { ensureBuckets, encodeJson } from '../../src/bus/index.js'
import { createLogger, silentLogger } from '../../src/core/index.js'
import { createRenderer, type Renderer, type RendererConfig } from '../../src/renderer/index.js'
import { NginxController } from '../../src/renderer/nginx.js'
import { ep } from '../unit/renderer-fixtures.js'
import { closeBackendLan, exampleHttpBody, startBackend, get } from './renderer-fixtures.js'

const nats = await startNats()
const nc: NatsConnection = await connect({ servers: nats.url })
const kv = await ensureBuckets(nc)
const backend = await startBackend('b1')
t.teardown(closeBackendLan)
const tmp = mkdtempSync(join(tmpdir(), 'dg-fail-'))
const log = process.env.DG_TEST_LOG != null ? createLogger({ level: 'debug' }) : silentLogger()
await kv.endpoints.put(...(([k, v]) => [k, encodeJson(v)] as const)(ep('web', 1, { ip: backend.host, port: backend.port })))

t.teardown(async () => {
  await nc.close()
  await backend.close()
  await nats.stop()
  rmSync(tmp, { recursive: true, force: true })
})

const metric = async (r: Renderer, name: string, labels = ''): Promise<number> => {
  const text = await r.registry.metrics()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) if ((m[1] ?? '').includes(labels)) sum += Number(m[2])
  return sum
}

const config = (over: Partial<RendererConfig> & Pick<RendererConfig, 'out' | 'nginxConf' | 'statusPort'>): RendererConfig => ({
  id: 'edge1', prefix: 'driftgate', nginxBin: '/usr/sbin/nginx', minWaitMs: 5, maxWaitMs: 200,
  reloadTimeoutMs: 5000, announceIntervalMs: 60_000, mode: 'file', ...over,
})

t.test('nginx -t that gives no verdict is its own error and is retried', async (t) => {
  // an "nginx" whose -t kills its helper shell the first two times (a crash)
  const counter = join(tmp, 'count')
  const bin = join(tmp, 'nginx-crashy')
  writeFileSync(bin, `#!/bin/sh
case " $* " in *" -t "*)
  n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}
  if [ "$n" -lt 2 ]; then kill -KILL 0; fi;;
esac
exec /usr/sbin/nginx "$@"
`)
  chmodSync(bin, 0o755)
  const out = join(tmp, 'crash-out')
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody() })
  t.teardown(async () => await nginx.stop())
  const r = createRenderer(config({ out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: bin, statusPort: await freePort() }), { nc, log })
  t.teardown(async () => await r.close())
  await r.start()
  await waitFor(async () => (await metric(r, 'driftgate_renderer_last_error', 'reason="tester"')) === 1, { what: 'tester error reported' })
  t.match(r.lastError, /nginx -t gave no verdict \(crashed\)/)
  t.equal(await metric(r, 'driftgate_renderer_rejected_total'), 0, 'not counted as a rejection')
  await waitFor(() => r.generation > 0 && r.lastError == null, { what: 'retried until it works', timeoutMs: 15_000 })
  await nginx.settled()
  t.equal((await get(nginx.port, 'web')).body, 'b1\n')
  t.equal(await metric(r, 'driftgate_renderer_last_error', 'reason="tester"'), 0)
})

t.test('nginx -t that hangs times out as its own error', async (t) => {
  const bin = join(tmp, 'nginx-hangs')
  writeFileSync(bin, '#!/bin/sh\nsleep 30\n')
  chmodSync(bin, 0o755)
  const c = new NginxController({ bin, conf: '/dev/null', statusPort: 1, reloadTimeoutMs: 100, testTimeoutMs: 300 })
  t.teardown(() => c.close())
  await t.rejects(c.test(), { code: 'DG_NGINX_TEST_FAILED', message: /no verdict \(timeout\)/ })
})

for (const mode of ['file', 'lua'] as const) {
  t.test(`${mode} mode: renderer first, nginx later from its files`, async (t) => {
    const out = join(tmp, `order-${mode}`)
    const fixedPort = await freePort()
    // the operator's own server names the `web` upstream: nginx cannot start without the renderer's files
    const fixed = `\n  server { listen 127.0.0.1:${fixedPort}; location / { proxy_pass http://web; } }\n`
    const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: mode === 'lua' })
    t.teardown(async () => await nginx.stop())
    await nginx.kill()
    nginx.writeConf(exampleHttpBody(fixed))
    t.notOk((await nginx.test()).ok, 'without the generated files the operator config is invalid')
    const r = createRenderer(config({ out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, statusPort: await freePort(), mode }), { nc, log })
    t.teardown(async () => await r.close())
    await r.start()
    await waitFor(async () => (await metric(r, 'driftgate_renderer_last_error', 'reason="not_running"')) === 1, { what: 'reload skipped reported' })
    t.ok(existsSync(join(out, 'web.conf')) && existsSync(join(out, '_driftgate.conf')), `files written: ${readdirSync(out).join(' ')}`)
    t.ok((await nginx.test()).ok, 'the written files make the operator config valid')
    await nginx.restart()
    await waitFor(async () => (await get(fixedPort, 'x')).body === 'b1\n', { what: 'fixed route served', timeoutMs: 10_000 })
    t.equal((await get(nginx.port, 'web.example.com')).body, 'b1\n')
    await waitFor(() => r.lastError == null && r.applied != null, { what: 'renderer recovered', timeoutMs: 35_000 })
  })
}
