// The servers template: route table → nginx server blocks (bundled and the
// example user template), the host-prefix option, the TLS hook, and the
// whole-model context.
import t from 'tap'
import { join } from 'node:path'
import { buildModel } from '../../src/renderer/model.js'
import { TemplateSet, builtinTemplatesDir } from '../../src/renderer/templates.js'
import { buildRoutes, type BuildRoutesOptions } from '../../src/renderer/routes.js'
import { labelsByContainer, serversContext, type ViewOptions } from '../../src/renderer/route-view.js'
import { TemplateError, type EndpointRecord, type RouteSpec, type ServiceRecord } from '../../src/core/index.js'
import { ep, svc } from './renderer-fixtures.js'

const builtin = builtinTemplatesDir()
const examples = join(builtin, 'examples')
const spec = (name: string, routes: RouteSpec[]): [string, ServiceRecord] => {
  const [k, rec] = svc(name)
  return [k, { ...rec, spec: { ...rec.spec, routes } }]
}
const OPTS: ViewOptions = { listen: '127.0.0.1:8080', listenTls: '443', hostPrefix: false, statusPort: 8597 }

function render (services: Array<[string, ServiceRecord]>, endpoints: Array<[string, EndpointRecord]>, o: Partial<ViewOptions> = {},
  dirs = [builtin], ro: BuildRoutesOptions = {}): Map<string, string> {
  const { model } = buildModel(endpoints, services)
  const table = buildRoutes(services.map(([, r]) => r), endpoints.map(([, e]) => e), ro)
  const ctx = serversContext(model, table, labelsByContainer(endpoints.map(([, e]) => e)), { ...OPTS, ...o })
  return new TemplateSet(dirs, 'lua').renderServices(model, 8597, ctx)
}

t.test('one server per host, a location pair per path (longest first), stripPrefix, 404 for the rest', async (t) => {
  const files = render([spec('shop', [{ host: 'a.test' }]), spec('api', [{ host: 'a.test', path: '/api/v1', stripPrefix: true }, { host: '*.b.test', path: '/x' }])],
    [ep('shop', 1), ep('api', 2)])
  const text = files.get('_driftgate.servers.conf') ?? ''
  t.match(text, /server \{\n {4}listen 127\.0\.0\.1:8080;\n {4}server_name a\.test;\n {4}location = \/api\/v1 \{\n {8}proxy_pass http:\/\/api\/; {2}# spec\n {4}\}\n {4}location \/api\/v1\/ \{\n {8}proxy_pass http:\/\/api\/;/)
  t.ok(text.indexOf('location /api/v1/') < text.indexOf('location / {\n        proxy_pass http://shop;'), 'longest prefix first')
  t.match(text, /server_name \*\.b\.test;\n {4}location = \/x \{\n {8}proxy_pass http:\/\/api;[^]*location \/ \{\n {8}return 404;/)
  t.equal((text.match(/server \{/g) ?? []).length, 2)
  t.notMatch(text, /ssl/, 'no certificate: no TLS server')
  t.equal(files.get('_driftgate.routes')?.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length, 0, 'no host-prefix entries by default')
})

t.test('the host-prefix option keeps the <service>.<anything> map entries', async (t) => {
  const files = render([svc('web')], [ep('web', 1)], { hostPrefix: true })
  t.match(files.get('_driftgate.routes') ?? '', 'web web;\nweb.* web;')
})

t.test('no routes: an empty servers file (nothing listens but the main config)', async (t) => {
  const text = render([svc('web')], [ep('web', 1)]).get('_driftgate.servers.conf') ?? ''
  t.notMatch(text, /server|listen/)
})

t.test('TLS hook: a host with a certificate gets a listen-ssl server; redirectHttps only where a certificate exists', async (t) => {
  const text = render([spec('web', [{ host: 'a.test', redirectHttps: true }, { host: 'b.test', redirectHttps: true }])], [ep('web', 1)], {}, [builtin],
    { certFor: (h) => (h === 'a.test' ? { cert: '/certs/live/a.test/fullchain.pem', key: '/certs/live/a.test/privkey.pem' } : undefined) })
    .get('_driftgate.servers.conf') ?? ''
  t.match(text, /server_name a\.test;\n {4}location \/ \{\n {8}return 301 https:\/\/\$host\$request_uri;/)
  t.match(text, /listen 443 ssl;\n {4}server_name a\.test;\n {4}ssl_certificate \/certs\/live\/a\.test\/fullchain\.pem;\n {4}ssl_certificate_key \/certs\/live\/a\.test\/privkey\.pem;\n {4}location \/ \{\n {8}proxy_pass http:\/\/web;/)
  t.match(text, /server_name b\.test;\n {4}location \/ \{\n {8}proxy_pass http:\/\/web;/, 'no certificate: served over HTTP, not redirected')
  t.equal((text.match(/ssl;/g) ?? []).length, 1)
})

t.test('hostile values that bypass the schemas fail the render (filters), never reach the file', async (t) => {
  const { model } = buildModel([ep('web', 1)], [svc('web')])
  const set = new TemplateSet([builtin], 'lua')
  const bad = (host: string, path: string) => serversContext(model, {
    hosts: [{ host, wildcard: false, redirectHttps: false, locations: [{ path, service: 'web', stripPrefix: false, redirectHttps: false, source: 'spec' }] }],
    conflicts: [], invalid: [],
  }, new Map(), OPTS)
  t.throws(() => set.renderServices(model, 8597, bad('a.test;}server{', '/')), TemplateError)
  t.throws(() => set.renderServices(model, 8597, bad('a.test', '/a b')), TemplateError)
  t.throws(() => set.renderServices(model, 8597, bad('10.0.0.1', '/')), TemplateError)
  t.throws(() => set.renderServices(model, 8597, { ...bad('a.test', '/'), listen: '80; include /etc/passwd' }), TemplateError)
})

t.test('the example template sees the whole model: services with routes, endpoints and their labels', async (t) => {
  const files = render([spec('shop', [{ host: 'a.test' }])], [ep('shop', 1), ep('blog', 2, { hosts: ['b.test', '*.b.test'], path: '/blog' })], {}, [examples, builtin])
  const text = files.get('_driftgate.servers.conf') ?? ''
  t.match(text, /^log_format driftgate_route escape=json/m)
  t.match(text, '# services: blog (1 endpoint(s), 000000000002 labelled 2 host(s); 2 route(s)), shop (1 endpoint(s); 1 route(s))')
  t.match(text, /location = \/blog \{\n {8}access_log logs\/driftgate-blog\.log driftgate_route;\n {8}add_header X-Driftgate-Route "blog \/blog" always;\n {8}proxy_pass http:\/\/blog;/)
  t.match(text, 'add_header X-Driftgate-Route "shop /" always;')
  // and the same routes as the bundled template
  const plain = render([spec('shop', [{ host: 'a.test' }])], [ep('shop', 1), ep('blog', 2, { hosts: ['b.test', '*.b.test'], path: '/blog' })]).get('_driftgate.servers.conf') ?? ''
  const names = (s: string) => s.match(/server_name \S+;|location [^{]+/g)
  t.same(names(text), names(plain))
})

t.test('host-prefix: unset resolves to auto; auto keeps it on only where the routes file already has entries', async (t) => {
  const { loadRendererConfig, resolveRendererConfig } = await import('../../src/renderer/config.js')
  const { hasHostPrefixEntries } = await import('../../src/renderer/file-format.js')
  t.equal(resolveRendererConfig(loadRendererConfig({ out: '/o', nginxConf: '/n.conf', id: 'e1' })).hostPrefix, 'auto')
  t.equal(resolveRendererConfig(loadRendererConfig({ out: '/o', nginxConf: '/n.conf', id: 'e1' }, { DRIFTGATE_HOST_PREFIX: 'false' })).hostPrefix, false)
  t.equal(resolveRendererConfig(loadRendererConfig({ out: '/o', nginxConf: '/n.conf', id: 'e1', hostPrefix: true })).hostPrefix, true)
  t.equal(resolveRendererConfig(loadRendererConfig({ out: '/o', nginxConf: '/n.conf', id: 'e1' })).httpListen, '80')
  t.throws(() => loadRendererConfig({ out: '/o', nginxConf: '/n.conf', id: 'e1', httpListen: '80; include x' }))
  const on = render([svc('web')], [ep('web', 1)], { hostPrefix: true }).get('_driftgate.routes')
  const off = render([svc('web')], [ep('web', 1)], { hostPrefix: false }).get('_driftgate.routes')
  t.equal(hasHostPrefixEntries(on), true, 'an older install (or the option on) has entries')
  t.equal(hasHostPrefixEntries(off), false)
  t.equal(hasHostPrefixEntries(undefined), false, 'a new install has no file')
})
