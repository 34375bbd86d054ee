import t from 'tap'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { startNats, waitFor } from '../harness/index.js'
import { openBucket, Buckets, encodeJson } from '../../src/bus/index.js'
import { silentLogger, type ServiceRecord } from '../../src/core/index.js'
import { startLookup } from '../../src/registry/lookup/index.js'
import { serviceRoutes } from '../../src/placement/routes.js'
import { host } from '../unit/placement-fixtures.js'
import { ApiClient } from '../../src/cli/client.js'
import { applyFiles } from '../../src/cli/apply.js'
import { scaleServices } from '../../src/cli/scale.js'
import { removeServices } from '../../src/cli/rm.js'

const TOKEN = 'test-token-123'

t.test('service routes on the registry API with a real nats-server', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  const kv = {
    endpoints: await openBucket(nc, Buckets.endpoints),
    hosts: await openBucket(nc, Buckets.hosts),
    services: await openBucket(nc, Buckets.services),
    assignments: await openBucket(nc, Buckets.assignments),
    leases: await openBucket(nc, Buckets.leases),
  }
  const lookup = await startLookup({
    nc, kv: { endpoints: kv.endpoints, hosts: kv.hosts, services: kv.services }, log: silentLogger(), metrics: new Registry(),
    config: { httpPort: 0, httpHost: '127.0.0.1', dnsPort: 0, dnsHost: '127.0.0.1', apiToken: [TOKEN] },
    plugins: [serviceRoutes({ kv, log: silentLogger() })],
  })
  t.teardown(() => lookup.close())
  const app = lookup.api
  const auth = { authorization: `Bearer ${TOKEN}` }
  const json = { ...auth, 'content-type': 'application/json' }
  const stored = async (): Promise<ServiceRecord | null> => {
    const e = await kv.services.get('web')
    return e?.operation === 'PUT' ? e.json<ServiceRecord>() : null
  }
  const web = { name: 'web', image: 'web:1', replicas: 3, port: 80, network: 'mv0', resources: { cpu: 0.5, memory: '256Mi' } }

  t.test('writes need the token', async (t) => {
    let r = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web })
    t.equal(r.statusCode, 401)
    t.match(r.json().error.message, /missing bearer token/)
    r = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web, headers: { authorization: 'Bearer wrong-token-x' } })
    t.equal(r.statusCode, 401)
    r = await app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { replicas: 1 } })
    t.equal(r.statusCode, 401)
    r = await app.inject({ method: 'DELETE', url: '/v1/services/web' })
    t.equal(r.statusCode, 401)
    t.equal(await stored(), null, 'nothing was written')
  })

  t.test('PUT JSON creates version 1; the same spec again changes nothing', async (t) => {
    let r = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web, headers: json })
    t.equal(r.statusCode, 201)
    t.match(r.json(), { service: 'web', version: 1, changed: true, created: true, replicas: 3 })
    r = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web, headers: json })
    t.equal(r.statusCode, 200)
    t.match(r.json(), { version: 1, changed: false })
    t.equal((await stored())?.version, 1)
    // lookup's GET sees it
    await waitFor(async () => (await app.inject({ url: '/v1/services/web' })).json().version === 1, { timeoutMs: 5000, what: 'lookup sees spec' })
  })

  t.test('PUT YAML updates with version + 1; the name may come from the URL', async (t) => {
    const yaml = 'image: web:2\nreplicas: 2\nport: 80\nnetwork: mv0\nenv: { A: "1" }\nhealth: { http: /healthz, interval: 5s }\n'
    const r = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: yaml, headers: { ...auth, 'content-type': 'application/yaml' } })
    t.equal(r.statusCode, 200, r.body)
    t.match(r.json(), { version: 2, changed: true, replicas: 2 })
    t.match((await stored())?.spec, { image: 'web:2', env: { A: '1' }, placement: { spread: 'host' } })
  })

  t.test('invalid specs are rejected naming the field and change nothing', async (t) => {
    const bad: Array<[string, unknown, RegExp, string?]> = [
      ['port out of range', { ...web, port: 70000 }, /\/port/],
      ['unknown field', { ...web, replica: 3 }, /unknown field "replica"/],
      ['bad memory', { ...web, resources: { memory: 'lots' } }, /\/resources\/memory/],
      ['name differs from URL', { ...web, name: 'api' }, /\/name.*differs/],
      ['not an object', [1, 2], /must be an object/],
      ['bad YAML', 'image: [unclosed', /YAML/, 'application/yaml'],
    ]
    for (const [desc, body, re, type] of bad) {
      const r = await app.inject({
        method: 'PUT', url: '/v1/services/web', headers: { ...auth, 'content-type': type ?? 'application/json' },
        payload: typeof body === 'string' ? body : JSON.stringify(body),
      })
      t.equal(r.statusCode, 400, desc)
      t.match(r.json().error.message, re, desc)
    }
    const r = await app.inject({ method: 'PUT', url: '/v1/services/Bad_Name', payload: web, headers: json })
    t.equal(r.statusCode, 400, 'bad name in the URL')
    t.equal((await stored())?.version, 2, 'version unchanged')
  })

  t.test('PATCH scales; bad patches name the field; unknown service is 404', async (t) => {
    let r = await app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { replicas: 5 }, headers: json })
    t.equal(r.statusCode, 200)
    t.match(r.json(), { version: 3, replicas: 5, changed: true })
    t.equal((await stored())?.spec.image, 'web:2', 'other fields kept')
    r = await app.inject({ method: 'PATCH', url: '/v1/services/web', payload: JSON.stringify({ env: { A: null, B: '2' } }), headers: { ...auth, 'content-type': 'application/merge-patch+json' } })
    t.equal(r.statusCode, 200)
    t.same((await stored())?.spec.env, { B: '2' }, 'merge patch: null removes, objects merge')
    r = await app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { replicas: -1 }, headers: json })
    t.equal(r.statusCode, 400)
    t.match(r.json().error.message, /\/replicas/)
    r = await app.inject({ method: 'PATCH', url: '/v1/services/web', payload: {}, headers: json })
    t.equal(r.statusCode, 400)
    r = await app.inject({ method: 'PATCH', url: '/v1/services/nope', payload: { replicas: 1 }, headers: json })
    t.equal(r.statusCode, 404)
    t.equal((await stored())?.version, 4)
  })

  t.test('GET /v1/placement reports unschedulable replicas with the reason', async (t) => {
    await kv.hosts.put('h1', encodeJson(host('h1', { memGi: 8 })))
    let r = await app.inject({
      method: 'PUT', url: '/v1/services/big', headers: json,
      payload: { image: 'big:1', replicas: 1, port: 80, network: 'mv0', resources: { memory: '64Gi' } },
    })
    t.equal(r.statusCode, 201)
    await waitFor(async () => (await app.inject({ url: '/v1/placement' })).json().services.length === 2, { timeoutMs: 5000, what: 'mirror' })
    r = await app.inject({ url: '/v1/placement' })
    const st = r.json()
    t.same(st.unschedulable.filter((u: { service: string }) => u.service === 'big'),
      [{ service: 'big', replica: 0, reason: 'needs 64Gi memory, largest free is 8Gi on h1' }])
    t.match(st.hosts, [{ host: 'h1', status: 'up', replicas: 0 }])
    t.match(st.services, [{ name: 'big', desired: 1, assigned: 0 }, { name: 'web', desired: 5, assigned: 0 }])
    t.same(st.leader, { holder: null, expiresAt: null })
  })

  t.test('DELETE removes; a second DELETE is 404', async (t) => {
    let r = await app.inject({ method: 'DELETE', url: '/v1/services/web', headers: auth })
    t.equal(r.statusCode, 200, r.body)
    t.match(r.json(), { service: 'web', deleted: true })
    t.equal(await stored(), null)
    r = await app.inject({ method: 'DELETE', url: '/v1/services/web', headers: auth })
    t.equal(r.statusCode, 404)
    r = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web, headers: json })
    t.equal(r.statusCode, 201, 'a deleted service can be applied again')
    t.equal(r.json().version, 1)
  })

  t.test('CLI commands against the listening API', async (t) => {
    const api = `http://127.0.0.1:${lookup.httpPort}`
    const client = new ApiClient({ api, token: TOKEN })
    let out = ''
    const write = (x: string): void => { out += x }
    const files: Record<string, string> = {
      'cli.yaml': 'name: cli\nimage: cli:1\nreplicas: 2\nport: 80\nnetwork: mv0\n---\nname: cli2\nimage: cli:1\nreplicas: 1\nport: 80\nnetwork: mv0\n',
      'bad.yaml': 'name: cli\nimage: cli:1\nreplicas: 2\nport: 99999\nnetwork: mv0\n',
    }
    await applyFiles(client, ['cli.yaml'], write, (f) => files[f])
    t.equal(out, 'cli: created (version 1, 2 replicas)\ncli2: created (version 1, 1 replica)\n')
    await t.rejects(applyFiles(client, ['bad.yaml'], write, (f) => files[f]), /\/port/, 'a bad spec names the field')
    await t.rejects(applyFiles(new ApiClient({ api }, {}), ['cli.yaml'], write, (f) => files[f]), /DRIFTGATE_TOKEN/, 'no token: says how to pass one')
    out = ''
    await scaleServices(client, [{ service: 'cli', replicas: 5 }], { wait: false, timeoutMs: 1000, out: write })
    t.equal(out, 'cli: 5 replicas (version 2)\n')
    await t.rejects(scaleServices(client, [{ service: 'nope', replicas: 1 }], { wait: false, timeoutMs: 1000, out: write }), /not found/)
    await t.rejects(scaleServices(client, [{ service: 'cli', replicas: 5 }], { wait: true, timeoutMs: 300, intervalMs: 100, out: write }),
      /waiting for cli=5 \(cli: 0\/5 running[^)]*\) timed out/, '--wait times out with the progress in the message')
    out = ''
    await removeServices(client, ['cli', 'cli2'], write)
    t.match(out, /cli: deleted[\s\S]*cli2: deleted/)
    await t.rejects(removeServices(client, ['cli'], write), /not found/)
  })
})
