// The HTTPS servers file and the TLS macros, rendered from the bundled templates.
import t from 'tap'
import nunjucks from 'nunjucks'
import { builtinTemplatesDir, ngxToken, TemplateSet } from '../../src/renderer/index.js'
import { ngxHost, ngxPath, ngxServerName } from '../../src/renderer/templates.js'
import type { CertEntry } from '../../src/renderer/certs/index.js'

const entry = (source: string, names: string[]): CertEntry => ({
  source, names, cert: `/out/certs/${source}-0123456789abcdef.crt`, key: `/out/certs/${source}-0123456789abcdef.key`,
  notBefore: new Date(0), notAfter: new Date('2030-01-01T00:00:00Z'), fingerprint: 'f',
})

t.test('one HTTPS server per certificate, a handshake-refusing default, nothing without certificates', async (t) => {
  const set = new TemplateSet([builtinTemplatesDir()])
  const text = set.renderTls([entry('wild', ['*.example.com']), entry('shop', ['shop.example.com', 'www.shop.example.com'])], '127.0.0.1:8443')
  t.match(text, /server \{\n {4}listen 127\.0\.0\.1:8443 ssl;\n {4}ssl_certificate \/out\/certs\/shop-0123456789abcdef\.crt;\n {4}ssl_certificate_key \/out\/certs\/shop-0123456789abcdef\.key;\n\n? {4}server_name shop\.example\.com www\.shop\.example\.com;/)
  t.match(text, 'server_name ~^[^.]+\\.example\\.com$;', 'a wildcard covers one label')
  t.ok(text.indexOf('shop-') < text.indexOf('wild-'), 'sorted by source')
  t.match(text, /listen 127\.0\.0\.1:8443 ssl default_server;\n {4}ssl_reject_handshake on;/)
  const none = set.renderTls([], '443')
  t.notMatch(none, 'listen', 'no certificate: nothing listens')
})

t.test('filters refuse what is not a host or a plain path', async (t) => {
  t.equal(ngxServerName('a.example.com'), 'a.example.com')
  for (const bad of ['a b', 'a;b', '*.', 'a.*.com', '**.x', '$host', 'x{']) {
    t.throws(() => ngxHost(bad), bad)
    t.throws(() => ngxServerName(bad), bad)
  }
  t.throws(() => ngxPath('/out/../etc/shadow'))
})

t.test('macros: listen with the copies, 301 to https (port shown unless 443)', async (t) => {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader([builtinTemplatesDir()]), { autoescape: false, trimBlocks: true, lstripBlocks: true })
  env.addFilter('ngx', ngxToken)
  env.addFilter('ngxpath', ngxPath)
  const tpl = '{% import "tls.njk" as tls %}{{ tls.listen(t, "443") }}|{{ tls.redirect(443) }}|{{ tls.redirect(8443) }}'
  const text = env.renderString(tpl, { t: { cert: '/c/a.crt', key: '/c/a.key' } })
  t.match(text, 'listen 443 ssl;\n    ssl_certificate /c/a.crt;\n    ssl_certificate_key /c/a.key;')
  t.match(text, 'return 301 https://$host$request_uri;')
  t.match(text, 'return 301 https://$host:8443$request_uri;')
})
