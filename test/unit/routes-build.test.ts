// buildRoutes: a table of {desc, input, expected} (like Traefik's provider
// tests) — spec and label claims in, the route table and the refused claims out.
import t from 'tap'
import { buildRoutes, type RouteTable } from '../../src/renderer/routes.js'
import type { EndpointRecord, RouteSpec, ServiceRecord } from '../../src/core/index.js'
import { ep, svc } from './renderer-fixtures.js'

const spec = (name: string, routes: RouteSpec[]): ServiceRecord => {
  const [, rec] = svc(name)
  return { ...rec, spec: { ...rec.spec, routes } }
}
const label = (service: string, n: number, hosts: string[], path?: string, over: Partial<EndpointRecord> = {}): EndpointRecord =>
  ep(service, n, { hosts, ...(path !== undefined ? { path } : {}), ...over })[1]
const loc = (path: string, service: string, source: 'spec' | 'label' = 'spec', o: { stripPrefix?: boolean, redirectHttps?: boolean } = {}) =>
  ({ path, service, stripPrefix: o.stripPrefix ?? false, redirectHttps: o.redirectHttps ?? false, source })
const host = (h: string, locations: ReturnType<typeof loc>[]) =>
  ({ host: h, wildcard: h.startsWith('*.'), locations, redirectHttps: locations.some((l) => l.redirectHttps) })

interface Case { desc: string, input: { services: ServiceRecord[], endpoints: EndpointRecord[] }, expected: Pick<RouteTable, 'hosts' | 'conflicts'> }

const cases: Case[] = [
  { desc: 'nothing claims anything', input: { services: [svc('web')[1]], endpoints: [ep('web', 1)[1]] }, expected: { hosts: [], conflicts: [] } },
  {
    desc: 'two services on one host under different paths: longest prefix first',
    input: { services: [spec('shop', [{ host: 'a.example.com' }]), spec('api', [{ host: 'a.example.com', path: '/api', stripPrefix: true }])], endpoints: [] },
    expected: { hosts: [host('a.example.com', [loc('/api', 'api', 'spec', { stripPrefix: true }), loc('/', 'shop')])], conflicts: [] },
  },
  {
    desc: 'a service with two hosts and a wildcard',
    input: { services: [spec('web', [{ host: 'www.a.com' }, { host: '*.a.com', redirectHttps: true }])], endpoints: [] },
    expected: { hosts: [host('*.a.com', [loc('/', 'web', 'spec', { redirectHttps: true })]), host('www.a.com', [loc('/', 'web')])], conflicts: [] },
  },
  {
    desc: 'labels: every host of the label, with its path; two containers of one service are one claim',
    input: { services: [], endpoints: [label('blog', 1, ['b.com', 'www.b.com'], '/blog'), label('blog', 2, ['b.com', 'www.b.com'], '/blog')] },
    expected: { hosts: [host('b.com', [loc('/blog', 'blog', 'label')]), host('www.b.com', [loc('/blog', 'blog', 'label')])], conflicts: [] },
  },
  {
    desc: 'a spec beats a label on the same host+path',
    input: { services: [spec('zeta', [{ host: 'c.com' }])], endpoints: [label('alpha', 1, ['c.com'])] },
    expected: {
      hosts: [host('c.com', [loc('/', 'zeta')])],
      conflicts: [{ host: 'c.com', path: '/', winner: 'zeta', winnerSource: 'spec', loser: 'alpha', loserSource: 'label' }],
    },
  },
  {
    desc: 'between labels the smallest service name wins',
    input: { services: [], endpoints: [label('web2', 1, ['d.com'], '/x'), label('web1', 2, ['d.com'], '/x')] },
    expected: {
      hosts: [host('d.com', [loc('/x', 'web1', 'label')])],
      conflicts: [{ host: 'd.com', path: '/x', winner: 'web1', winnerSource: 'label', loser: 'web2', loserSource: 'label' }],
    },
  },
  {
    desc: 'between specs (two racing PUTs) the smallest service name wins',
    input: { services: [spec('b', [{ host: 'e.com' }]), spec('a', [{ host: 'e.com' }])], endpoints: [] },
    expected: {
      hosts: [host('e.com', [loc('/', 'a')])],
      conflicts: [{ host: 'e.com', path: '/', winner: 'a', winnerSource: 'spec', loser: 'b', loserSource: 'spec' }],
    },
  },
  {
    desc: 'a service claiming by spec and label is not a conflict (the spec claim is used)',
    input: { services: [spec('web', [{ host: 'f.com', stripPrefix: false }])], endpoints: [label('web', 1, ['f.com'])] },
    expected: { hosts: [host('f.com', [loc('/', 'web')])], conflicts: [] },
  },
  {
    desc: 'records without hosts claim nothing',
    input: { services: [], endpoints: [ep('web', 2)[1], ep('web', 3, { removed: true })[1]] },
    expected: { hosts: [], conflicts: [] },
  },
  {
    desc: 'a tombstone keeps its claim while the service\'s upstream lives (a restart never 404s or reloads)',
    input: { services: [], endpoints: [label('web', 1, ['g.com'], undefined, { removed: true })] },
    expected: { hosts: [host('g.com', [loc('/', 'web', 'label')])], conflicts: [] },
  },
  {
    desc: 'hostile hosts and paths that bypassed the schemas are dropped',
    input: {
      services: [spec('web', [{ host: 'x.com;}server{' }, { host: 'ok.com', path: '/a b' }, { host: '10.0.0.1' }])],
      endpoints: [label('web', 1, ['h.com\nlisten 81'], '/'), label('web', 2, ['i.com'], '/../etc')],
    },
    expected: { hosts: [], conflicts: [] },
  },
]

for (const c of cases) {
  t.test(c.desc, async (t) => {
    const r = buildRoutes(c.input.services, c.input.endpoints)
    t.same({ hosts: r.hosts, conflicts: r.conflicts }, c.expected)
    // order never matters: reversed input, same table
    const back = buildRoutes([...c.input.services].reverse(), [...c.input.endpoints].reverse())
    t.same(back, r, 'same result in reverse arrival order')
  })
}

t.test('claims of services without an upstream are dropped; certFor fills tls per host', async (t) => {
  const r = buildRoutes([spec('web', [{ host: 'a.com' }, { host: 'b.com' }]), spec('gone', [{ host: 'c.com' }])], [], {
    exists: (n) => n === 'web',
    certFor: (h) => (h === 'a.com' ? { cert: '/c/a.pem', key: '/c/a.key' } : undefined),
  })
  t.same(r.hosts.map((h) => [h.host, h.tls]), [['a.com', { cert: '/c/a.pem', key: '/c/a.key' }], ['b.com', undefined]])
  t.same(r.invalid, [{ service: 'gone', reason: 'no upstream' }])
})

t.test('the hostile-input cases were reported as invalid, not silently lost', async (t) => {
  const c = cases[cases.length - 1]
  t.equal(buildRoutes(c.input.services, c.input.endpoints).invalid.length, 5)
})
