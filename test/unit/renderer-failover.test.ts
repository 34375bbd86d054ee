// Spec failover in the renderer's pure parts (issue 21): another site's
// endpoints are nginx `backup` peers (file mode) or `:b`/`:s` peers in the
// lua push line, and become the only peers while the local set is empty.
import t from 'tap'
import { buildModel, type RemoteSource } from '../../src/renderer/model.js'
import { serviceLine } from '../../src/renderer/lua-batch.js'
import { TemplateSet, builtinTemplatesDir } from '../../src/renderer/templates.js'
import type { EndpointRecord, FailoverSpec, ServiceRecord } from '../../src/core/index.js'
import { ep, svc } from './renderer-fixtures.js'

const withFailover = (name: string, failover: FailoverSpec, upstream: ServiceRecord['spec']['upstream'] = {}): [string, ServiceRecord] => {
  const [k, r] = svc(name, upstream)
  return [k, { ...r, spec: { ...r.spec, failover } }]
}
const remoteOf = (sites: Record<string, Array<[string, EndpointRecord]>>): RemoteSource =>
  (site, service) => (sites[site] ?? []).map(([, e]) => e).filter((e) => e.service === service)

const siteB = { b: [ep('web', 101, { ip: '10.241.0.1' }), ep('web', 102, { ip: '10.241.0.2', state: 'draining' })] }

t.test('local endpoints first, the failover site as backup peers', async (t) => {
  const { model } = buildModel([ep('web', 1)], [withFailover('web', { sites: ['b'], mode: 'backup' })], remoteOf(siteB))
  const up = model.services[0]
  t.same(up.servers.map((s) => s.ip), ['10.240.1.1'])
  t.same(up.backups?.map((s) => s.ip), ['10.241.0.1'], 'only the remote site\'s routable endpoints')
  t.equal(up.failedOver, undefined)
  t.equal(serviceLine(up), 'svc web round_robin 1 10000 10.240.1.1:80:1 10.241.0.1:80:1:b')
  const text = new TemplateSet([builtinTemplatesDir()], 'file').renderServices(model, 8597).get('web.conf') ?? ''
  t.match(text, /server 10\.240\.1\.1:80 weight=1 max_fails=1 fail_timeout=10s;/)
  t.match(text, /server 10\.241\.0\.1:80 weight=1 max_fails=1 fail_timeout=10s backup;/)
})

t.test('no live local endpoint: the failover site serves as the primary set (first site with any, in order)', async (t) => {
  const remote = remoteOf({ c: [ep('web', 201, { ip: '10.242.0.1' })], ...siteB })
  const { model } = buildModel([ep('web', 1, { state: 'draining' })], [withFailover('web', { sites: ['x', 'b', 'c'], mode: 'backup' })], remote)
  const up = model.services[0]
  t.same(up.servers.map((s) => s.ip), ['10.241.0.1'])
  t.equal(up.failedOver, 'b')
  t.equal(up.backups, undefined)
  const text = new TemplateSet([builtinTemplatesDir()], 'file').renderServices(model, 8597).get('web.conf') ?? ''
  t.match(text, /site b's \(failover\)/)
  t.notMatch(text, /return 503/, 'no 503 fallback while another site serves')
})

t.test('spill marks the remote peers :s; ip_hash keeps them out of the file (nginx refuses backup there) but not out of lua', async (t) => {
  const { model } = buildModel([ep('web', 1)], [withFailover('web', { sites: ['b'], mode: 'spill' }, { method: 'ip_hash' })], remoteOf(siteB))
  t.equal(serviceLine(model.services[0]), 'svc web ip_hash 1 10000 10.240.1.1:80:1 10.241.0.1:80:1:s')
  const text = new TemplateSet([builtinTemplatesDir()], 'file').renderServices(model, 8597).get('web.conf') ?? ''
  t.notMatch(text, /backup/)
})

t.test('no failover in the spec: another site\'s endpoints are never used', async (t) => {
  const { model } = buildModel([], [svc('web')], remoteOf(siteB))
  t.same(model.services[0].servers, [])
  t.equal(model.services[0].backups, undefined)
})

t.test('a hostile remote record is dropped like a local one', async (t) => {
  const { model, invalid } = buildModel([], [withFailover('web', { sites: ['b'], mode: 'backup' })],
    remoteOf({ b: [ep('web', 5, { ip: '10.0.0.1;evil' }), ep('web', 6, { ip: '10.241.0.6' })] }))
  t.same(model.services[0].servers.map((s) => s.ip), ['10.241.0.6'])
  t.match(invalid, [{ reason: 'remote endpoint: ip' }])
})
