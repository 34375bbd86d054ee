import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildModel, type Model } from '../../src/renderer/model.js'
import { TemplateSet, builtinTemplatesDir, ngxToken, fallbackAddresses } from '../../src/renderer/templates.js'
import { HEADER } from '../../src/renderer/file-format.js'
import { TemplateError } from '../../src/core/index.js'
import { ep, svc } from './renderer-fixtures.js'

const builtin = builtinTemplatesDir()

t.test('renders one file per service with the spec options and weights', async (t) => {
  const { model } = buildModel([ep('web', 2, { weight: 5 }), ep('web', 1, { port: 8080 })],
    [svc('web', { method: 'least_conn', maxFails: 2, failTimeout: '10s', keepalive: 32 })])
  const files = new TemplateSet([builtin]).renderServices(model, 8597)
  t.same([...files.keys()], ['web.conf', '_driftgate.routes'])
  const text = files.get('web.conf') ?? ''
  t.ok(text.startsWith(HEADER))
  t.match(text, /upstream web \{\n {4}least_conn;\n/)
  t.match(text, /server 10\.240\.1\.1:8080 weight=1 max_fails=2 fail_timeout=10s;/)
  t.match(text, /server 10\.240\.1\.2:80 weight=5 max_fails=2 fail_timeout=10s;/)
  t.ok(text.indexOf('10.240.1.1:') < text.indexOf('10.240.1.2:'))
  t.match(text, /keepalive 32;/)
  t.notMatch(text, /listen/)
})

t.test('a service without live endpoints renders a 503 listener, never an empty upstream', async (t) => {
  const { model } = buildModel([ep('web', 1, { state: 'draining' })], [])
  const text = new TemplateSet([builtin]).renderServices(model, 8597).get('web.conf') ?? ''
  const addr = fallbackAddresses(['web']).get('web')
  t.match(text, new RegExp(`upstream web \\{[^}]*server ${addr?.replace(/\./g, '\\.')}:8597;\\s*\\}`))
  t.match(text, `listen ${addr}:8597;`)
  t.match(text, 'return 503 "no live endpoint for web\\n";')
})

t.test('unchanged state renders byte-identical output (also after a template reload)', async (t) => {
  const input = buildModel([ep('a', 1), ep('b', 2), ep('a', 3)], [svc('c')])
  const set = new TemplateSet([builtin])
  const one = set.renderServices(input.model, 8597)
  const again = set.renderServices(buildModel([ep('a', 3), ep('b', 2), ep('a', 1)], [svc('c')]).model, 8597)
  set.reload()
  const fresh = set.renderServices(input.model, 8597)
  t.same([...one], [...again])
  t.same([...one], [...fresh])
  t.equal(set.renderStatus(input.model, 7, 8597), set.renderStatus(input.model, 7, 8597))
  t.match(set.renderStatus(input.model, 7, 8597), /# generation 7:.*\n[\s\S]*return 200 "7\\n";/)
})

t.test('fallback addresses are stable, distinct and never 127.0.0.1', async (t) => {
  const names = Array.from({ length: 2000 }, (_, i) => `s${i}`)
  const a = fallbackAddresses(names)
  const b = fallbackAddresses([...names].reverse())
  t.same([...a].sort(), [...b].sort())
  t.equal(new Set(a.values()).size, names.length)
  t.notOk([...a.values()].includes('127.0.0.1'))
  t.ok([...a.values()].every((v) => /^127\.\d+\.\d+\.\d+$/.test(v)))
})

t.test('the ngx filter refuses anything but a plain token', async (t) => {
  t.equal(ngxToken('10.0.0.1'), '10.0.0.1')
  t.equal(ngxToken(80), '80')
  for (const bad of ['x;}server{listen 1', 'web\nlisten 81', 'a b', '"q"', '$host', '', 'a{', NaN, null, undefined, {}]) {
    t.throws(() => ngxToken(bad), TemplateError, JSON.stringify(String(bad)))
  }
})

t.test('hostile values that bypass the model still cannot reach a file', async (t) => {
  const set = new TemplateSet([builtin])
  const hostile: Model = {
    containers: [],
    services: [{ name: 'x;}server{listen 1', method: 'round_robin', maxFails: 1, failTimeout: '10s', keepalive: 0, servers: [], defaulted: true }],
  }
  t.throws(() => set.renderServices(hostile, 8597), TemplateError)
  const newline: Model = {
    containers: [],
    services: [{ name: 'web', method: 'round_robin', maxFails: 1, failTimeout: '10s', keepalive: 0, defaulted: true,
      servers: [{ ip: '10.0.0.1;\nserver 6.6.6.6', port: 80, weight: 1, containerId: 'a'.repeat(64) }] }],
  }
  t.throws(() => set.renderServices(newline, 8597), TemplateError)
})

t.test('user templates override the bundled ones; a broken one fails with TemplateError and keeps the old set', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-tpl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'upstream.conf.njk'), 'upstream {{ service.name | ngx }} { server 127.0.0.1:1; }\n')
  const set = new TemplateSet([dir, builtin])
  const { model } = buildModel([ep('web', 1)], [])
  t.equal(set.renderServices(model, 1).get('web.conf'), HEADER + 'upstream web { server 127.0.0.1:1; }\n')
  t.match(set.renderStatus(model, 1, 8597), /location = \/driftgate\/generation/)
  writeFileSync(join(dir, 'upstream.conf.njk'), 'upstream {{ service.name | ngx }} {% if %}\n')
  t.throws(() => set.reload(), TemplateError)
  t.equal(set.renderServices(model, 1).get('web.conf'), HEADER + 'upstream web { server 127.0.0.1:1; }\n')
  writeFileSync(join(dir, 'upstream.conf.njk'), '{{ service.nope.deeper }}\n')
  set.reload()
  t.throws(() => set.renderServices(model, 1), TemplateError)
})
