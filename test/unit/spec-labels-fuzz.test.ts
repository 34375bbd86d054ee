// Fuzz of service specs (JSON and YAML, through the API's own parsing path)
// and of container labels / inspect data (the agent's extraction).
// Properties: only ValidationError escapes; what is accepted is usable by
// Docker (bounded durations and sizes, a user network) and nginx (fail_timeout
// in whole seconds); what the agent publishes is what the registry accepts.
import t from 'tap'
import fc from 'fast-check'
import { stringify as toYaml } from 'yaml'
import {
  checkEvent, checkServiceSpec, parseDuration, parseSize, specDemand, ValidationError, RESERVED_NETWORK_NAMES, readYaml, type ServiceSpec,
} from '../../src/core/index.js'
import { patchSpec, specFromBody } from '../../src/placement/spec-input.js'
import { createOptions } from '../../src/agent/reconciler/index.js'
import { parseLabels, LABEL } from '../../src/agent/docker/labels.js'
import { classifyContainer, type ContainerInspect } from '../../src/agent/docker/endpoint.js'
import { containerId, dnsLabel, fuzzParams, ipv4, mostly, specBody } from './fuzz-arbitraries.js'

const HOUR = 3_600_000
/** Every promise of an accepted spec, checked on the spec and on the Docker options built from it. */
function usable (spec: ServiceSpec): string | null {
  if (checkServiceSpec.problems(structuredClone(spec)) !== null) return 'not valid on a second check'
  if (RESERVED_NETWORK_NAMES.includes(spec.network.toLowerCase()) || spec.network.includes(':')) return 'docker network mode'
  const ft = spec.upstream.failTimeout
  if (ft !== undefined && (!/^\d{1,4}(s|m|h)$/.test(ft) || parseDuration(ft) > HOUR)) return `failTimeout ${ft}`
  if (spec.stopGracePeriod !== undefined && parseDuration(spec.stopGracePeriod) > HOUR) return 'grace'
  const mem = spec.resources.memory !== undefined ? parseSize(spec.resources.memory) : 0
  if (mem !== 0 && (mem < 6 * 1024 ** 2 || mem > 64 * 1024 ** 4)) return `memory ${mem}`
  const d = specDemand(spec)
  if (!Number.isFinite(d.cpus) || !Number.isFinite(d.memoryBytes)) return 'demand'
  const o = createOptions(spec, 0, 'a'.repeat(16))
  if (!Number.isInteger(o.StopTimeout) || o.StopTimeout! > 3600 || o.StopTimeout! < 0) return `StopTimeout ${o.StopTimeout}`
  const hc = o.Healthcheck
  if (hc !== undefined && (hc.Interval! < 1e6 || hc.Interval! > HOUR * 1e6)) return `health interval ${hc.Interval}`
  if (o.HostConfig?.NanoCpus !== undefined && o.HostConfig.NanoCpus < 1e7) return 'cpus under 0.01'
  return null
}

/** The API's path: body → specFromBody; only ValidationError may come out. */
function apply (name: string, body: unknown): ServiceSpec | null {
  try {
    return specFromBody(name, body)
  } catch (err) {
    if (err instanceof ValidationError) return null
    throw err
  }
}

let accepted = 0
let refused = 0
t.test('JSON spec bodies', async (t) => {
  fc.assert(fc.property(dnsLabel, fc.oneof({ arbitrary: specBody, weight: 6 }, fc.anything({ maxDepth: 3 })), (name, body) => {
    const spec = apply(name, body)
    if (spec === null) { refused++; return true }
    accepted++
    const why = usable(spec)
    if (why !== null) throw new Error(`accepted but unusable (${why}): ${JSON.stringify(spec)}`)
    return true
  }), fuzzParams(2000))
  t.ok(accepted > 50 && refused > 50, `both outcomes exercised (${accepted} accepted, ${refused} refused)`)
  t.comment(`JSON specs: ${accepted} accepted, ${refused} refused`)
})

t.test('YAML spec bodies, valid and damaged, through the same path', async (t) => {
  let ok = 0
  let bad = 0
  const text = fc.oneof(
    specBody.map((b) => toYaml(b)),
    fc.tuple(specBody.map((b) => toYaml(b)), fc.nat(400), fc.string({ maxLength: 6 })).map(([y, at, junk]) => y.slice(0, at % (y.length + 1)) + junk + y.slice(at % (y.length + 1))),
    fc.string({ maxLength: 80 }),
    fc.constantFrom('a: &x [1]\nb: [*x, *x, *x]\n', '!!js/function "f"', '? [a]\n: b\n', 'network: !!binary aGVsbG8=\n'),
  )
  fc.assert(fc.property(dnsLabel, text, (name, yaml) => {
    let body: unknown
    try {
      body = readYaml(yaml, 'body') // routes.ts's parser: a ValidationError here is a 400
    } catch (err) { if (err instanceof ValidationError) { bad++; return true } throw err }
    const spec = apply(name, body)
    if (spec === null) { bad++; return true }
    ok++
    const why = usable(spec)
    if (why !== null) throw new Error(`accepted but unusable (${why}): ${JSON.stringify(spec)}`)
    return true
  }), fuzzParams(1500))
  t.ok(ok > 20, `some YAML accepted (${ok}, ${bad} refused)`)
  t.comment(`YAML specs: ${ok} accepted, ${bad} refused`)
})

t.test('PATCH bodies on an accepted spec', async (t) => {
  const current = specFromBody('web', { image: 'busybox', replicas: 1, port: 80, network: 'mv0' })
  fc.assert(fc.property(fc.oneof(specBody, fc.anything({ maxDepth: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }))), (patch) => {
    let spec: ServiceSpec
    try { spec = patchSpec(current, patch) } catch (err) { if (err instanceof ValidationError) return true; throw err }
    const why = usable(spec)
    if (why !== null) throw new Error(`patched into an unusable spec (${why})`)
    return spec.name === 'web'
  }), fuzzParams(1500))
  t.pass()
})

const labelValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -5, max: 70000 }).map(String),
  fc.constantFrom('08', '1e3', ' 5', '0x10', 'true', 'web', 'x;}server{', 'mv0', 'a'.repeat(200), ''),
)
const labels = fc.record({
  [LABEL.service]: mostly(fc.constantFrom('web', 'api'), labelValue, 4),
  [LABEL.port]: mostly(fc.integer({ min: 1, max: 65535 }).map(String), labelValue, 4),
  [LABEL.network]: mostly(fc.constant('mv0'), labelValue, 3),
  [LABEL.weight]: mostly(fc.integer({ min: 1, max: 100 }).map(String), labelValue, 4),
  [LABEL.managed]: labelValue,
  [LABEL.replica]: mostly(fc.integer({ min: 0, max: 10000 }).map(String), labelValue, 4),
  [LABEL.spec]: mostly(fc.stringMatching(/^[a-f0-9]{8,64}$/), labelValue, 4),
  other: labelValue,
}, { requiredKeys: [LABEL.service] }) as fc.Arbitrary<Record<string, string>>

t.test('container labels', async (t) => {
  let ok = 0
  fc.assert(fc.property(labels, (l) => {
    const r = parseLabels(l)
    if (!r.ok) return typeof r.message === 'string'
    ok++
    const p = r.labels
    return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(p.service) && Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535 &&
      p.weight >= 1 && p.weight <= 100 && (p.network === undefined || /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(p.network))
  }), fuzzParams(3000))
  t.ok(ok > 0, `some label sets accepted (${ok})`)
})

t.test('inspect data → endpoint → the registry accepts the event', async (t) => {
  const MV = 'e'.repeat(64)
  const inspect: fc.Arbitrary<ContainerInspect> = fc.record({
    Id: fc.oneof({ arbitrary: containerId, weight: 5 }, fc.string({ maxLength: 10 })),
    Name: fc.option(fc.oneof(fc.constant('/web-1'), fc.string({ maxLength: 20 })), { nil: undefined }),
    Config: fc.record({ Labels: fc.option(labels, { nil: null }) }),
    State: fc.record({ Running: mostly(fc.constant(true), fc.constant(false), 3), Paused: fc.boolean(), Restarting: mostly(fc.constant(false), fc.constant(true), 3), Health: fc.option(fc.record({ Status: fc.constantFrom('healthy', 'unhealthy', 'starting', 'x') }), { nil: null }) }),
    NetworkSettings: fc.record({
      Networks: fc.dictionary(mostly(fc.constant('mv0'), fc.constantFrom('bridge', 'mv1'), 3), fc.record({
        NetworkID: mostly(fc.constant(MV), fc.constantFrom('f'.repeat(64), ''), 4),
        IPAddress: mostly(ipv4, fc.constantFrom('', '1.2.3', '10.240.1.5\n'), 6),
        MacAddress: mostly(fc.constantFrom('02:42:0A:F0:01:0A', '02:42:0a:f0:01:0b'), fc.string({ maxLength: 17 }), 6),
      }), { minKeys: 1, maxKeys: 3 }),
    }),
  })
  let endpoints = 0
  fc.assert(fc.property(inspect, fc.boolean(), (c, draining) => {
    const r = classifyContainer(c, { macvlan: new Set([MV]), draining })
    if (r.kind !== 'endpoint') return true
    endpoints++
    const ev = { v: 1, kind: 'upsert', host: 'h1', instance: 'lq0000001-aaaaaa', seq: 1, time: 1, sentAt: 1, endpoint: r.endpoint }
    const p = checkEvent.problems(ev)
    if (p !== null) throw new Error(`agent published what the registry refuses: ${JSON.stringify(p)} ${JSON.stringify(r.endpoint)}`)
    return true
  }), fuzzParams(3000))
  t.ok(endpoints > 0, `some containers became endpoints (${endpoints})`)
})
