// The per-service model cache must give exactly what a full buildModel gives,
// whatever the sequence of changes, and keep unchanged services' objects.
import t from 'tap'
import { buildModel } from '../../src/renderer/model.js'
import { ModelCache } from '../../src/renderer/model-cache.js'
import type { EndpointRecord, ServiceRecord } from '../../src/core/index.js'
import { ep, svc } from './renderer-fixtures.js'

t.test('incremental updates equal a full build over 300 random changes', async (t) => {
  const endpoints = new Map<string, EndpointRecord>()
  const services = new Map<string, ServiceRecord>()
  const cache = new ModelCache()
  const src = {
    all: () => ({ endpoints, services }),
    endpoints: (name: string) => [...endpoints].filter(([, e]) => e.service === name),
    spec: (name: string) => services.get(name),
  }
  let seed = 42
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  cache.model(src)
  for (let i = 0; i < 300; i++) {
    const name = `s${rnd(6)}`
    const what = rnd(5)
    if (what <= 1) {
      const [k, v] = ep(name, rnd(20) + 1, { weight: rnd(3) + 1, state: rnd(4) === 0 ? 'draining' : 'running' })
      endpoints.set(k, v)
    } else if (what === 2) {
      const keys = [...endpoints.keys()].filter((k) => k.startsWith(`${name}.`))
      if (keys.length > 0) endpoints.delete(keys[rnd(keys.length)])
    } else if (what === 3) {
      const [k, v] = svc(name, { method: rnd(2) === 0 ? 'least_conn' : 'random', keepalive: rnd(3) })
      services.set(k, v)
    } else services.delete(name)
    cache.touch(name)
    const r = cache.model(src)
    const inc = r.model
    const full = buildModel(endpoints, services).model
    t.same(inc.services, full.services, `change ${i}`)
    t.same(r.changed, [name], `changed names ${i}`)
    t.equal(r.endpoints, full.containers.length, `endpoint count ${i}`)
    t.equal(r.lookup(name), full.services.find((s) => s.name === name) != null ? inc.services.find((s) => s.name === name) : undefined, `lookup ${i}`)
    t.same([...inc.containers].sort(), full.containers, `containers ${i}`)
  }
})

t.test('an untouched service keeps its object', async (t) => {
  const endpoints = new Map([ep('a', 1), ep('b', 2)])
  const cache = new ModelCache()
  const src = { all: () => ({ endpoints, services: [] }), endpoints: (n: string) => [...endpoints].filter(([, e]) => e.service === n), spec: () => undefined }
  const one = cache.model(src)
  const [k, v] = ep('a', 3)
  endpoints.set(k, v)
  cache.touch('a')
  const two = cache.model(src)
  t.equal(two.model.services[1], one.model.services[1], 'b is the same object')
  t.not(two.model.services[0], one.model.services[0], 'a was rebuilt')
  t.equal(two.namesChanged, false)
  t.equal(one.model.services[0].servers[0].ip, ep('a', 1)[1].ip, 'an earlier model is not changed by a later one')
})
