// Lua mode's pure parts: the push format, the lua templates, the routes file,
// the mode detection and the fork-server failure classification.
import t from 'tap'
import { buildModel } from '../../src/renderer/model.js'
import { buildBatch, buildDelta, serviceLine } from '../../src/renderer/lua-batch.js'
import { TemplateSet, builtinTemplatesDir, ngxPath } from '../../src/renderer/templates.js'
import { HEADER, ROUTES_FILE } from '../../src/renderer/file-format.js'
import { loadsLua } from '../../src/renderer/mode.js'
import { errorReason } from '../../src/renderer/failures.js'
import { NginxNotRunningError, NginxPushError, NginxRejectedError, NginxReloadError, NginxTestError, TemplateError } from '../../src/core/index.js'
import { ep, svc } from './renderer-fixtures.js'

t.test('a service line carries method, health options and weighted peers', async (t) => {
  const { model } = buildModel([ep('web', 2, { weight: 5 }), ep('web', 1, { port: 8080 })],
    [svc('web', { method: 'least_conn', maxFails: 3, failTimeout: '1m' })])
  t.equal(serviceLine(model.services[0]), 'svc web least_conn 3 60000 10.240.1.1:8080:1 10.240.1.2:80:5')
})

t.test('batches: full first, then only what changed, deletions for services gone', async (t) => {
  const one = buildModel([ep('a', 1), ep('b', 2)], []).model
  const first = buildBatch(one, new Map(), 7, true)
  t.equal(first.text, 'driftgate 1\ngen 7\nfull\nsvc a round_robin 1 10000 10.240.1.1:80:1\nsvc b round_robin 1 10000 10.240.1.2:80:1\n')
  t.equal(buildBatch(one, first.lines, 8, false).text, null, 'nothing changed: nothing to push')
  const two = buildModel([ep('a', 1), ep('a', 3), ep('c', 4)], []).model
  const delta = buildBatch(two, first.lines, 9, false)
  t.equal(delta.text, 'driftgate 1\ngen 9\nsvc a round_robin 1 10000 10.240.1.1:80:1 10.240.1.3:80:1\nsvc c round_robin 1 10000 10.240.1.4:80:1\ndel b\n')
  t.equal(delta.changed, 3)
  const empty = buildModel([ep('a', 1, { state: 'draining' })], []).model
  t.equal(buildBatch(empty, delta.lines, 10, false).text, 'driftgate 1\ngen 10\nsvc a round_robin 1 10000\ndel c\n', 'no live endpoint: an empty set, not a deletion')
})

t.test('a delta over the changed names only equals the scanned delta', async (t) => {
  const one = buildModel([ep('a', 1), ep('b', 2), ep('z', 9)], []).model
  const first = buildBatch(one, new Map(), 7, true)
  const two = buildModel([ep('a', 1), ep('a', 3), ep('c', 4), ep('z', 9)], []).model
  const byName = new Map(two.services.map((s) => [s.name, s]))
  // z is named but unchanged: not sent; x is named, never pushed and gone: nothing
  const d = buildDelta(['a', 'b', 'c', 'z', 'x'], (n) => byName.get(n), first.lines, 9)
  const lines = (text: string | null): string[] => (text ?? '').split('\n').sort()
  t.same(lines(d.text), lines(buildBatch(two, first.lines, 9, false).text), 'the same lines (order differs: nginx applies a batch as a whole)')
  t.same([...d.updates], [['a', serviceLine(byName.get('a')!)], ['b', null], ['c', serviceLine(byName.get('c')!)]])
  t.equal(buildDelta(['z'], (n) => byName.get(n), first.lines, 10).text, null, 'nothing changed: nothing to push')
})

t.test('lua templates: the upstream file holds no endpoint, only what needs a reload', async (t) => {
  const set = new TemplateSet([builtinTemplatesDir()], 'lua')
  const a = buildModel([ep('web', 1)], [svc('web', { keepalive: 8 })]).model
  const b = buildModel([ep('web', 2, { weight: 9 }), ep('web', 3)], [svc('web', { keepalive: 8, method: 'random' })]).model
  const fa = set.renderServices(a, 8597)
  const fb = set.renderServices(b, 8597)
  t.equal(fa.get('web.conf'), fb.get('web.conf'), 'endpoint and method changes render the same bytes')
  t.match(fa.get('web.conf'), /balancer_by_lua_block \{ require\("driftgate.balancer"\).balance\("web"\) \}/)
  t.match(fa.get('web.conf'), /keepalive 8;/)
  t.notMatch(fa.get('web.conf'), /10\.240/)
  const status = set.renderStatus(a, 3, 8597)
  t.match(status, /lua_shared_dict driftgate 64m;/)
  t.match(status, /allow 127\.0\.0\.1;\s+deny all;/)
  t.match(status, /client_max_body_size 8m;/)
  t.match(status, /listen 127\.0\.0\.2:8597;/)
})

t.test('routes: only existing service names, exact and with any tail', async (t) => {
  const { model } = buildModel([ep('web', 1), ep('api', 2)], [])
  const files = new TemplateSet([builtinTemplatesDir()]).renderServices(model, 8597)
  t.equal(files.get(ROUTES_FILE), `${HEADER}api api;\napi.* api;\nweb web;\nweb.* web;\n`)
})

t.test('ngxpath prints plain absolute paths only', async (t) => {
  t.equal(ngxPath('/opt/driftgate/nginx/lua'), '/opt/driftgate/nginx/lua')
  for (const bad of ['relative/x', '/a b', '/a;b', '/a/../b', '/a"b', 5]) t.throws(() => ngxPath(bad), TemplateError, String(bad))
})

t.test('auto mode: the Lua module counts only when loaded', async (t) => {
  t.ok(loadsLua('# configuration file /etc/nginx/modules-enabled/50-mod-http-lua.conf:\nload_module modules/ngx_http_lua_module.so;\n'))
  t.ok(loadsLua('load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;'))
  t.notOk(loadsLua('# load_module modules/ngx_http_lua_module.so;\nevents {}'))
  t.notOk(loadsLua('load_module modules/ngx_stream_module.so;'))
})

t.test('each failure has its own reason label', async (t) => {
  t.equal(errorReason(new TemplateError('x')), 'template')
  t.equal(errorReason(new NginxRejectedError('x')), 'rejected')
  t.equal(errorReason(new NginxTestError('helper crashed')), 'tester')
  t.equal(errorReason(new NginxReloadError('x')), 'reload')
  t.equal(errorReason(new NginxNotRunningError('x')), 'not_running')
  t.equal(errorReason(new NginxPushError('x')), 'push')
  t.equal(errorReason(new Error('EIO')), 'write')
})
