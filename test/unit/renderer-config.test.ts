import t from 'tap'
import { loadConfig, ConfigError } from '../../src/core/index.js'
import { rendererSchema, resolveRendererConfig, defaultRendererId, type RendererFileConfig } from '../../src/renderer/config.js'

const load = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Readonly<RendererFileConfig> =>
  loadConfig<RendererFileConfig>({ role: 'renderer', schema: rendererSchema, flags, env })

t.test('defaults, flags and environment', async (t) => {
  const c = resolveRendererConfig(load({ out: '/o', nginxConf: '/n.conf', id: 'edge-1' }, { DRIFTGATE_MIN_WAIT: '20ms' }))
  t.match(c, { out: '/o', nginxConf: '/n.conf', id: 'edge-1', nginxBin: 'nginx', statusPort: 8597, minWaitMs: 20, maxWaitMs: 1000, reloadTimeoutMs: 10000, announceIntervalMs: 5000, prefix: 'driftgate' })
  t.equal(resolveRendererConfig(load({ out: '/o', nginxConf: '/n', id: 'a', maxWait: '2s', statusPort: 9000 })).maxWaitMs, 2000)
})

t.test('bad input is refused with every problem named', async (t) => {
  const err = t.throws(() => load({ id: 'Bad_Id', statusPort: 70000, minWait: 'soon' })) as ConfigError
  t.type(err, ConfigError)
  const fields = err.problems.map((p) => `${p.field} ${p.message}`).join(' ')
  for (const f of ['out', 'nginxConf', 'id', 'statusPort', 'minWait']) t.match(fields, f)
})

t.test('default id is a DNS label made from the host name', async (t) => {
  t.equal(defaultRendererId('Edge_01.example.com'), 'edge-01-example-com')
  t.equal(defaultRendererId('___'), 'renderer')
  t.match(defaultRendererId('x'.repeat(100)), /^x{63}$/)
})

t.test('renderer id: flag > env > config file > machine name', async (t) => {
  const { loadRendererConfig, defaultRendererId } = await import('../../src/renderer/index.js')
  const { mkdtempSync, writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'dg-rcfg-'))
  const file = join(dir, 'renderer.yaml')
  writeFileSync(file, 'out: /tmp/out\nnginxConf: /etc/nginx/nginx.conf\nid: edge-1\n')
  t.equal(loadRendererConfig({}, {}, file).id, 'edge-1', 'the file\'s id is used')
  t.equal(loadRendererConfig({}, { DRIFTGATE_ID: 'edge-2' }, file).id, 'edge-2', 'env beats the file')
  t.equal(loadRendererConfig({ id: 'edge-3' }, { DRIFTGATE_ID: 'edge-2' }, file).id, 'edge-3', 'a flag beats both')
  t.equal(loadRendererConfig({ out: '/o', nginxConf: '/c' }, {}).id, defaultRendererId(), 'machine name last')
})
