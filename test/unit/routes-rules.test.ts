// Route host/path rules: one set for the API (spec schema), the agent's labels
// and the renderer's filters. Hostile values are refused everywhere.
import t from 'tap'
import {
  checkEndpointRecord, checkServiceSpec, routeHostProblem, routePathProblem, specRouteProblems, MAX_ROUTES,
} from '../../src/core/index.js'
import { parseLabels } from '../../src/agent/docker/labels.js'
import { specFromBody } from '../../src/placement/spec-input.js'
import { ep } from './renderer-fixtures.js'

const GOOD_HOSTS = ['a.example.com', '*.example.com', 'web', 'x-1.y2.io', `${'a'.repeat(63)}.com`, 'xn--bcher-kva.example']
const BAD_HOSTS = ['', '10.0.0.1', '[::1]', 'a..b', '-a.com', 'a-.com', '*.', '*', 'a.*.com', '**.a.com', 'A.com', 'a.com.',
  'a com', 'a;b', 'a.com;}server{', 'a.com\nlisten 81', '"a.com"', "'a'", '$host', 'a_b.com', `${'a'.repeat(64)}.com`,
  `${'abcdefghi.'.repeat(26)}com`, 'a.com:80', 'a/b']
const GOOD_PATHS = ['/', '/api', '/api/v1', '/a.b_c-d', '/v1.2']
const BAD_PATHS = ['', 'api', '/api/', '//', '/a//b', '/..', '/a/../b', '/.', '/a b', '/a;b', '/a{', '/a}', '/"a"', "/'a'", '/a\nb',
  '/$uri', '/a%20b', '/a?b', '/a#b', '/~a', `/${'a'.repeat(256)}`]

t.test('host names: DNS rules, a leading *. wildcard, no IP literal, lower case', async (t) => {
  for (const h of GOOD_HOSTS) t.equal(routeHostProblem(h), null, h)
  for (const h of BAD_HOSTS) t.not(routeHostProblem(h), null, JSON.stringify(h))
})

t.test('paths: plain prefixes, no .., no spaces, quotes, ;{} or newlines, bounded', async (t) => {
  for (const p of GOOD_PATHS) t.equal(routePathProblem(p), null, p)
  for (const p of BAD_PATHS) t.not(routePathProblem(p), null, JSON.stringify(p))
})

const base = { image: 'img', replicas: 1, port: 80, network: 'mv0' }

t.test('spec schema: routes accepted, hostile ones refused with the field named, count bounded', async (t) => {
  const s = specFromBody('web', { ...base, routes: [{ host: 'Shop.Example.COM', path: '/api', stripPrefix: true, redirectHttps: false }] })
  t.same(s.routes, [{ host: 'shop.example.com', path: '/api', stripPrefix: true, redirectHttps: false }], 'host lower-cased')
  for (const h of BAD_HOSTS.filter((h) => h !== 'A.com')) {
    t.throws(() => checkServiceSpec({ name: 'web', ...base, routes: [{ host: h }] }), { code: 'DG_VALIDATION' }, JSON.stringify(h))
  }
  for (const p of BAD_PATHS) {
    t.throws(() => checkServiceSpec({ name: 'web', ...base, routes: [{ host: 'a.com', path: p }] }), { code: 'DG_VALIDATION' }, JSON.stringify(p))
  }
  t.throws(() => checkServiceSpec({ name: 'web', ...base, routes: [{ host: 'a.com', extra: 1 }] }), { code: 'DG_VALIDATION' })
  const many = Array.from({ length: MAX_ROUTES + 1 }, (_, i) => ({ host: `h${i}.com` }))
  t.throws(() => checkServiceSpec({ name: 'web', ...base, routes: many }), { code: 'DG_VALIDATION' })
  t.ok(checkServiceSpec({ name: 'web', ...base, routes: many.slice(0, MAX_ROUTES) }))
})

t.test('specRouteProblems names the other service, and repeats inside one spec', async (t) => {
  const other = { spec: { name: 'shop', routes: [{ host: 'a.com', path: '/api' }, { host: 'b.com' }] } }
  t.same(specRouteProblems({ name: 'web', routes: [{ host: 'a.com', path: '/api' }] }, [other]),
    ['routes/0: a.com/api is already routed to service "shop"'])
  t.same(specRouteProblems({ name: 'web', routes: [{ host: 'a.com' }, { host: 'a.com', path: '/' }] }, []),
    ['routes/1: a.com/ is already routes/0 of this spec'])
  t.same(specRouteProblems({ name: 'shop', routes: other.spec.routes }, [other]), [], 'its own routes are no conflict')
  t.same(specRouteProblems({ name: 'web', routes: [{ host: 'a.com', path: '/api/v2' }, { host: 'c.com' }] }, [other]), [])
})

const labels = (extra: Record<string, string>) => parseLabels({ 'driftgate.service': 'web', ...extra })

t.test('labels: driftgate.hosts and driftgate.path parsed, lower-cased; a bad one skips the container with its reason', async (t) => {
  t.same(labels({ 'driftgate.hosts': 'WWW.a.com, a.com', 'driftgate.path': '/api' }),
    { ok: true, labels: { service: 'web', port: 80, weight: 1, hosts: ['a.com', 'www.a.com'], path: '/api' } })
  t.same(labels({ 'driftgate.hosts': '*.a.com' }), { ok: true, labels: { service: 'web', port: 80, weight: 1, hosts: ['*.a.com'] } })
  t.same(labels({}), { ok: true, labels: { service: 'web', port: 80, weight: 1 } }, 'no route labels: nothing')
  for (const h of BAD_HOSTS.filter((h) => h !== '' && h !== 'A.com' && !h.includes(','))) {
    const r = labels({ 'driftgate.hosts': `ok.com,${h}` })
    t.match(r, { ok: false, reason: 'invalid_hosts', service: 'web' }, JSON.stringify(h))
  }
  for (const p of BAD_PATHS.filter((p) => p !== '')) {
    t.match(labels({ 'driftgate.hosts': 'a.com', 'driftgate.path': p }), { ok: false, reason: 'invalid_path' }, JSON.stringify(p))
  }
  t.match(labels({ 'driftgate.path': '/api' }), { ok: false, reason: 'invalid_path', message: /needs driftgate.hosts/ })
  t.match(labels({ 'driftgate.hosts': Array.from({ length: 17 }, (_, i) => `h${i}.com`).join(',') }), { ok: false, reason: 'invalid_hosts' })
})

t.test('endpoint records: hosts/path optional (old records stay valid), hostile ones refused', async (t) => {
  const [, old] = ep('web', 1)
  t.equal(checkEndpointRecord.problems(old), null, 'a record without route fields')
  t.equal(checkEndpointRecord.problems({ ...old, hosts: ['a.com', '*.b.com'], path: '/x' }), null)
  t.not(checkEndpointRecord.problems({ ...old, hosts: ['a.com;'] }), null)
  t.not(checkEndpointRecord.problems({ ...old, hosts: [] }), null)
  t.not(checkEndpointRecord.problems({ ...old, path: '/a/../b' }), null)
  t.not(checkEndpointRecord.problems({ ...old, path: '/a b' }), null)
})
