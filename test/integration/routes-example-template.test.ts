// The example user template (templates/examples/servers.conf.njk) rendered
// from a model and served by a real nginx: its per-service access log and
// route header work, and it routes like the bundled template.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNginx, waitFor } from '../harness/index.js'
import { buildModel } from '../../src/renderer/model.js'
import { TemplateSet, builtinTemplatesDir } from '../../src/renderer/templates.js'
import { buildRoutes } from '../../src/renderer/routes.js'
import { labelsByContainer, serversContext } from '../../src/renderer/route-view.js'
import type { ServiceRecord } from '../../src/core/index.js'
import { ep, svc } from '../unit/renderer-fixtures.js'
import { closeBackendLan, exampleHttpBody, startBackend } from './renderer-fixtures.js'
import { request } from 'node:http'

const out = mkdtempSync(join(tmpdir(), 'dg-example-out-'))
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody() })
const shop = await startBackend('shop')
const blog = await startBackend('blog')
t.teardown(async () => {
  await shop.close(); await blog.close(); await closeBackendLan()
  await nginx.stop()
  rmSync(out, { recursive: true, force: true })
})

const headGet = (host: string, path: string): Promise<{ status: number, route?: string, body: string }> => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port: nginx.port, path, headers: { host }, agent: false }, (res) => {
    let body = ''
    res.on('data', (c: Buffer) => { body += c.toString() })
    res.on('end', () => resolve({ status: res.statusCode ?? 0, route: res.headers['x-driftgate-route'] as string | undefined, body }))
  })
  req.on('error', reject)
  req.end()
})

t.test('the example template renders, passes nginx -t and adds what the bundled one does not', async (t) => {
  const [k, rec] = svc('shop')
  const services: Array<[string, ServiceRecord]> = [[k, { ...rec, spec: { ...rec.spec, routes: [{ host: 'a.test' }] } }]]
  const endpoints = [ep('shop', 1, { ip: shop.host, port: shop.port }), ep('blog', 2, { ip: blog.host, port: blog.port, hosts: ['a.test'], path: '/blog' })]
  const { model } = buildModel(endpoints, services)
  const table = buildRoutes(services.map(([, r]) => r), endpoints.map(([, e]) => e))
  const ctx = serversContext(model, table, labelsByContainer(endpoints.map(([, e]) => e)),
    { listen: `127.0.0.1:${nginx.port}`, listenTls: '443', hostPrefix: false, statusPort: 8597 })
  const set = new TemplateSet([join(builtinTemplatesDir(), 'examples'), builtinTemplatesDir()], 'file')
  for (const [name, text] of set.renderServices(model, 8597, ctx)) writeFileSync(join(out, name), text)
  const test = await nginx.test()
  t.ok(test.ok, test.output)
  await nginx.reload()
  const a = await headGet('a.test', '/')
  t.match(a, { status: 200, route: 'shop /', body: 'shop\n' })
  const b = await headGet('a.test', '/blog/x')
  t.match(b, { status: 200, route: 'blog /blog', body: 'blog\n' })
  t.equal((await headGet('nosuch.test', '/')).status, 404)
  const log = join(nginx.prefix, 'logs', 'driftgate-blog.log')
  await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('/blog/x'), { what: 'per-service access log' })
  const line = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop() ?? '{}') as Record<string, unknown>
  t.match(line, { host: 'a.test', uri: '/blog/x', upstream: `${blog.host}:${blog.port}`, status: 200 })
  t.notOk(readFileSync(join(nginx.prefix, 'logs', 'driftgate-shop.log'), 'utf8').includes('/blog/x'), 'one log per service')
})
