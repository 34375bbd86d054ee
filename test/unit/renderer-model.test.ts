import t from 'tap'
import { buildModel, isLive, endpointRenderKey, serviceRenderKey } from '../../src/renderer/model.js'
import { ep, svc, cid } from './renderer-fixtures.js'

t.test('keeps only running, not unhealthy, not removed endpoints', async (t) => {
  const { model, invalid } = buildModel([
    ep('web', 1), ep('web', 2, { state: 'draining' }), ep('web', 3, { health: 'unhealthy' }),
    ep('web', 4, { removed: true }), ep('web', 5, { health: 'starting' }), ep('web', 6, { state: 'paused' }),
  ], [])
  t.same(invalid, [])
  t.equal(model.services.length, 1)
  t.same(model.services[0].servers.map((s) => s.ip), ['10.240.1.1', '10.240.1.5'])
  t.same(model.containers, [cid(1), cid(5)].sort())
  t.notOk(isLive(ep('web', 7, { removed: true, state: 'running' })[1]))
})

t.test('a service with endpoints but no spec gets defaults; spec options are used', async (t) => {
  const { model } = buildModel([ep('web', 1), ep('api', 2, { weight: 7 })],
    [svc('api', { method: 'least_conn', maxFails: 3, failTimeout: '5s', keepalive: 8 })])
  const [api, web] = model.services
  t.match(api, { name: 'api', method: 'least_conn', maxFails: 3, failTimeout: '5s', keepalive: 8, defaulted: false })
  t.equal(api.servers[0].weight, 7)
  t.match(web, { name: 'web', method: 'round_robin', maxFails: 1, failTimeout: '10s', keepalive: 16, defaulted: true })
})

t.test('a spec without live endpoints and a service with only tombstones still render (503)', async (t) => {
  const { model } = buildModel([ep('gone', 1, { removed: true })], [svc('idle')])
  t.same(model.services.map((s) => [s.name, s.servers.length]), [['gone', 0], ['idle', 0]])
})

t.test('order of input does not matter (byte-identical renders need a stable model)', async (t) => {
  const records = [ep('b', 3), ep('a', 200), ep('a', 20), ep('a', 100), ep('b', 1)]
  const one = buildModel(records, [svc('c'), svc('a')])
  const two = buildModel([...records].reverse(), [svc('a'), svc('c')])
  t.same(JSON.stringify(one.model), JSON.stringify(two.model))
  t.same(one.model.services.map((s) => s.name), ['a', 'b', 'c'])
  // numeric, not lexical, address order
  t.same(one.model.services[0].servers.map((s) => s.ip), ['10.240.1.20', '10.240.1.100', '10.240.1.200'])
})

t.test('hostile or malformed records are dropped and reported, never modelled', async (t) => {
  const hostile = [
    ep('x;}server{listen 1', 1), ep('web\nlisten 81', 2), ep('web', 3, { ip: '10.0.0.1;listen 81' }),
    ep('web', 4, { ip: '10.0.0.1\n' }), ep('web', 5, { port: 0 }), ep('web', 6, { port: 1.5 }),
    ep('web', 7, { weight: 1000 }), ep('web', 8, { containerId: 'zz;' }), ep('web', 9, { ip: '::1' }),
    ep('web', 10),
  ]
  const { model, invalid } = buildModel(hostile, [
    svc('bad', { method: 'least_conn;deny all' as never }), svc('bad2', { failTimeout: '1s;' }),
    svc('bad3', { keepalive: -1 }), ['mismatch', svc('other')[1]],
  ])
  t.same(model.services.map((s) => s.name), ['web'])
  t.same(model.services[0].servers.map((s) => s.ip), ['10.240.1.10'])
  t.equal(invalid.length, 13)
  t.ok(invalid.every((i) => typeof i.reason === 'string' && i.reason.length > 0))
})

t.test('render keys ignore what cannot change the files', async (t) => {
  const [, a] = ep('web', 1)
  t.equal(endpointRenderKey(a), endpointRenderKey({ ...a, seq: 9, updatedAt: 5, health: 'healthy', instance: '000000001-abcdef' }))
  t.not(endpointRenderKey(a), endpointRenderKey({ ...a, ip: '10.240.1.99' }))
  t.not(endpointRenderKey(a), endpointRenderKey({ ...a, state: 'draining' }))
  t.not(endpointRenderKey(a), endpointRenderKey({ ...a, weight: 2 }))
  t.not(endpointRenderKey(a), endpointRenderKey(undefined))
  t.equal(endpointRenderKey({ ...a, state: 'draining' }), endpointRenderKey({ ...a, removed: true }))
  const [, s] = svc('web')
  t.equal(serviceRenderKey(s), serviceRenderKey({ ...s, version: 2, spec: { ...s.spec, replicas: 9, image: 'other' } }))
  t.not(serviceRenderKey(s), serviceRenderKey({ ...s, spec: { ...s.spec, upstream: { keepalive: 2 } } }))
})
