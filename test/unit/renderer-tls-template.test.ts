// The HTTPS servers file and the TLS macros, rendered from the bundled templates.
import t from 'tap'
import nunjucks from 'nunjucks'
import { builtinTemplatesDir, ngxToken, TemplateSet } from '../../src/renderer/index.js'
import { buildModel } from '../../src/renderer/model.js'
import { buildRoutes, type HostTls } from '../../src/renderer/routes.js'
import { serversContext } from '../../src/renderer/route-view.js'
import type { RouteSpec, ServiceRecord } from '../../src/core/index.js'
import { ep, svc } from './renderer-fixtures.js'

const withRoutes = (name: string, routes: RouteSpec[]): [string, ServiceRecord] => {
  const [k, rec] = svc(name)
  return [k, { ...rec, spec: { ...rec.spec, routes } }]
}
import { ngxHost, ngxPath, ngxServerName } from '../../src/renderer/templates.js'

t.test('the HTTPS default server refuses unknown names; nothing listens without a TLS host', async (t) => {
  const set = new TemplateSet([builtinTemplatesDir()])
  t.match(set.renderTls(2, '127.0.0.1:8443'), /server \{\n {4}listen 127\.0\.0\.1:8443 ssl default_server;\n {4}ssl_reject_handshake on;\n\}/)
  t.notMatch(set.renderTls(0, '443'), 'listen', 'no route host with a certificate: nothing listens')
})

t.test('filters refuse what is not a host or a plain path', async (t) => {
  t.equal(ngxServerName('a.example.com'), 'a.example.com')
  t.equal(ngxServerName('*.example.com'), '~^[^.]+\\.example\\.com$', 'a wildcard covers one label')
  for (const bad of ['a b', 'a;b', '*.', 'a.*.com', '**.x', '$host', 'x{', '10.0.0.1']) {
    t.throws(() => ngxHost(bad), bad)
    t.throws(() => ngxServerName(bad), bad)
  }
  t.throws(() => ngxPath('/out/../etc/shadow'))
})

t.test('macros: listen with the copies, 301 to https (port shown unless 443)', async (t) => {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader([builtinTemplatesDir()]), { autoescape: false, trimBlocks: true, lstripBlocks: true })
  env.addFilter('ngx', ngxToken)
  env.addFilter('ngxpath', ngxPath)
  const tpl = '{% import "tls.njk" as tls %}{{ tls.listen("443") }}{{ tls.certificate(t) }}|{{ tls.redirect(443) }}|{{ tls.redirect(8443) }}'
  const text = env.renderString(tpl, { t: { cert: '/c/a.crt', key: '/c/a.key' } })
  t.match(text, 'listen 443 ssl;\n    ssl_certificate /c/a.crt;\n    ssl_certificate_key /c/a.key;')
  t.match(text, 'return 301 https://$host$request_uri;')
  t.match(text, 'return 301 https://$host:8443$request_uri;')
})

t.test('servers template: a route host with a certificate gets its TLS server, redirectHttps → 301 (port unless 443)', async (t) => {
  const { model } = buildModel([ep('shop', 1)], [withRoutes('shop', [{ host: 'shop.example.com', redirectHttps: true }, { host: '*.example.com', path: '/w' }, { host: 'plain.example.com' }])])
  const certFor = (h: string): HostTls | undefined => h === 'plain.example.com' ? undefined : { cert: `/out/certs/${h.replace('*', 'w')}.crt`, key: `/out/certs/${h.replace('*', 'w')}.key` }
  const table = buildRoutes([withRoutes('shop', [{ host: 'shop.example.com', redirectHttps: true }, { host: '*.example.com', path: '/w' }, { host: 'plain.example.com' }])[1]], [ep('shop', 1)[1]], { certFor })
  for (const [listenTls, redirect] of [['443', 'return 301 https://$host$request_uri;'], ['127.0.0.1:8443', 'return 301 https://$host:8443$request_uri;']]) {
    const ctx = serversContext(model, table, new Map(), { listen: '80', listenTls, hostPrefix: false, statusPort: 8597 })
    const text = new TemplateSet([builtinTemplatesDir()]).renderServices(model, 8597, ctx).get('_driftgate.servers.conf') ?? ''
    t.match(text, `server {\n    listen ${listenTls} ssl;\n    server_name shop.example.com;\n    ssl_certificate /out/certs/shop.example.com.crt;\n    ssl_certificate_key /out/certs/shop.example.com.key;\n    location / {\n        proxy_pass http://shop;`)
    t.match(text, `server {\n    listen 80;\n    server_name shop.example.com;\n    location / {\n        ${redirect}\n    }`, 'HTTP redirects to HTTPS')
    t.match(text, 'server_name ~^[^.]+\\.example\\.com$;', 'TLS server of a wildcard host: one label')
    t.match(text, 'server_name *.example.com;', 'its HTTP server keeps nginx\'s wildcard')
    t.equal((text.match(/ ssl;/g) ?? []).length, 2, 'no TLS server for the host without a certificate')
  }
})
