// Issue 15: every spec the API accepts renders a config that real `nginx -t`
// accepts. Spec bodies from the schema's ranges (failTimeout also from near
// misses such as "250ms" and "1.5s") go through the API's own parser
// (specFromBody); the accepted ones, with generated endpoint records that
// pass the KV schema, are rendered by the renderer's templates and tested by
// nginx, many services per `nginx -t`. FUZZ_RUNS scales it.
import t from 'tap'
import fc from 'fast-check'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkEndpointRecord, ValidationError, type EndpointRecord, type ServiceRecord } from '../../src/core/index.js'
import { specFromBody } from '../../src/placement/spec-input.js'
import { buildModel, builtinTemplatesDir, TemplateSet } from '../../src/renderer/index.js'
import { dnsLabel, endpointFields, fuzzParams, upstreamSpecBody } from '../unit/fuzz-arbitraries.js'

const NGINX = '/usr/sbin/nginx'
const dir = mkdtempSync(join(tmpdir(), 'dg-nginx-fuzz-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const out = join(dir, 'out')
for (const d of ['out', 'logs', 'tmp']) mkdirSync(join(dir, d))
const templates = new TemplateSet([builtinTemplatesDir()])
const STATUS_PORT = 18999

/** A minimal main config: the generated files, and a literal proxy_pass to each upstream so nginx resolves them all. */
function mainConf (services: string[]): string {
  const tmp = (n: string): string => `${n}_temp_path ${join(dir, 'tmp', n)};`
  return `pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} notice;
events { worker_connections 64; }
http {
  access_log off;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(tmp).join('\n  ')}
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  include ${join(out, '*.conf')};
  server {
    listen 127.0.0.1:18998;
${services.map((s) => `    location /${s}/ { proxy_pass http://${s}; }`).join('\n')}
  }
}
`
}

function nginxTest (conf: string): { ok: boolean, output: string } {
  try {
    execFileSync(NGINX, ['-t', '-q', '-p', `${dir}/`, '-c', conf, '-e', join(dir, 'logs', 'error.log')], { stdio: 'pipe' })
    return { ok: true, output: '' }
  } catch (err) {
    return { ok: false, output: String((err as { stderr?: Buffer }).stderr ?? err) }
  }
}

const batch = fc.uniqueArray(
  fc.record({ name: dnsLabel, body: upstreamSpecBody, endpoints: fc.array(endpointFields, { minLength: 1, maxLength: 6 }) }),
  { minLength: 1, maxLength: 25, selector: (s) => s.name },
)

let specs = 0
let accepted = 0
let refused = 0
let endpointsRendered = 0
let nginxRuns = 0

t.test('accepted specs render configs nginx -t accepts', async (t) => {
  fc.assert(fc.property(batch, (items) => {
    const services: Array<[string, ServiceRecord]> = []
    const endpoints: Array<[string, EndpointRecord]> = []
    for (const item of items) {
      specs++
      let spec
      try {
        spec = specFromBody(item.name, item.body)
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
        refused++
        continue
      }
      accepted++
      services.push([spec.name, { v: 1, spec, version: 1, updatedAt: 1 }])
      for (const e of item.endpoints) {
        const rec = {
          v: 1, service: spec.name, containerId: e.containerId, ip: e.ip, mac: '02:42:0a:f0:01:01', port: e.port, network: 'mv0',
          state: e.state, health: e.health, weight: e.weight, host: 'h1', instance: '000000000-abcdef', seq: 1, updatedAt: 1,
          ...(e.removed === true ? { removed: true } : {}),
        }
        // Only what the renderer's KV mirror would let in.
        if (checkEndpointRecord.problems(rec) === null) endpoints.push([`${spec.name}.${e.containerId}`, rec as EndpointRecord])
      }
    }
    if (services.length === 0) return true
    const { model, invalid } = buildModel(endpoints, services)
    if (invalid.length > 0) throw new Error(`model refused API-accepted input: ${JSON.stringify(invalid)}`)
    for (const f of readdirSync(out)) rmSync(join(out, f))
    for (const [file, text] of templates.renderServices(model, STATUS_PORT)) writeFileSync(join(out, file), text)
    writeFileSync(join(out, '_driftgate.conf'), templates.renderStatus(model, 1, STATUS_PORT))
    endpointsRendered += model.containers.length
    const conf = join(dir, 'nginx.conf')
    writeFileSync(conf, mainConf(model.services.map((s) => s.name)))
    nginxRuns++
    const r = nginxTest(conf)
    if (!r.ok) throw new Error(`nginx -t refused specs the API accepted: ${r.output}\n${JSON.stringify(services.map(([, s]) => s.spec.upstream))}`)
    return true
  }), fuzzParams(40, { shrink: false }))
  t.ok(accepted >= 100 || process.env.FUZZ_RUNS !== undefined, `enough accepted specs to mean something (${accepted})`)
  t.ok(refused > 0, 'near misses were generated and refused by the API')
  t.comment(`${specs} specs generated, ${accepted} accepted by the API and rendered (${endpointsRendered} live endpoints), ${refused} refused; ${nginxRuns} nginx -t runs`)
})

t.test('the property can fail: nginx -t refuses fail_timeout=250ms (the value the API used to accept)', async (t) => {
  writeFileSync(join(out, 'x.conf'), 'upstream x { server 10.240.1.1:80 fail_timeout=250ms; }\n')
  const conf = join(dir, 'nginx-neg.conf')
  writeFileSync(conf, mainConf(['x']))
  t.notOk(nginxTest(conf).ok)
  t.throws(() => specFromBody('x', { image: 'busybox', replicas: 1, port: 80, network: 'mv0', upstream: { failTimeout: '250ms' } }), ValidationError)
})
