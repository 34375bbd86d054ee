// fast-check arbitraries shared by the *-fuzz tests (not a test file). Values
// are derived from the schema's ranges, with a margin on each side so that
// both the accepted and the refused edge are exercised.
import fc from 'fast-check'

/** Runs per property: small and seeded in CI; FUZZ_RUNS=5000 for a long run. FUZZ_SEED replays one. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined
export const fuzzParams = (ciRuns: number, opts: { shrink?: boolean } = {}): fc.Parameters<unknown> => ({
  numRuns: FUZZ_RUNS ?? ciRuns,
  seed: Number(process.env.FUZZ_SEED ?? 20261128),
  // Shrinking re-runs the property many times: worth it for cheap pure ones.
  endOnFailure: opts.shrink === false,
})

export const dnsLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
export const containerId = fc.stringMatching(/^[a-f0-9]{64}$/)
export const mac = fc.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)

/** Any IPv4, weighted towards the special ranges endpoint IPs must avoid. */
export const ipv4 = fc.oneof(
  fc.ipV4(),
  fc.tuple(fc.constantFrom(0, 127, 169, 224, 239, 255, 10, 192), fc.nat(255), fc.nat(255), fc.nat(255))
    .map(([a, b, c, d]) => `${a}.${a === 169 ? 254 : b}.${c}.${d}`),
)

/** Durations as people write them, valid or not ("250ms", "1.5s", "99999999h", "10"). */
export const durationText = fc.oneof(
  { arbitrary: fc.tuple(fc.integer({ min: 1, max: 3600 }), fc.constant('s')).map(([n, u]) => `${n}${u}`), weight: 4 },
  fc.tuple(fc.nat(4000), fc.constantFrom('ms', 's', 'm', 'h', 'd', '')).map(([n, u]) => `${n}${u}`),
  fc.tuple(fc.nat(100), fc.nat(99), fc.constantFrom('ms', 's', 'm', 'h')).map(([a, b, u]) => `${a}.${b}${u}`),
  fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 25n }), fc.constantFrom('ms', 's', 'h')).map(([n, u]) => `${n}${u}`),
  fc.constantFrom('0s', '1h', '60m', '3600s', '3601s', '61m', '0ms', '1ms', '0.4ms'),
)

export const sizeText = fc.oneof(
  fc.tuple(fc.nat(5000), fc.constantFrom('', 'k', 'K', 'M', 'G', 'T', 'Ki', 'Mi', 'Gi', 'Ti')).map(([n, u]) => `${n}${u}`),
  fc.constantFrom('6Mi', '64Ti', '65Ti', '99999999999999999999Ti', '0', '1'),
)

/** Mostly a valid value, sometimes one of the near misses. */
export const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>, weight = 12): fc.Arbitrary<T | U> =>
  fc.oneof({ arbitrary: valid, weight }, { arbitrary: invalid, weight: 1 })

/** A spec body as a client might send it: mostly schema-shaped, with values around the edges. */
export const specBody = fc.record({
  image: mostly(fc.constantFrom('busybox', 'registry.local/web:1.4.2', 'a@sha256:abc'), fc.constant('bad image')),
  replicas: mostly(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(-1, 1001, 1.5)),
  port: mostly(fc.integer({ min: 1, max: 65535 }), fc.constantFrom(0, 65536)),
  network: mostly(fc.oneof(fc.constant('mv0'), fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}$/)),
    fc.constantFrom('host', 'bridge', 'none', 'NONE', 'container:x', 'default'), 6),
  command: fc.option(fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), { nil: undefined }),
  resources: fc.option(fc.record({
    cpu: fc.option(mostly(fc.double({ min: 0.01, max: 1024, noNaN: true }), fc.constantFrom(0, 0.001, -1, 1100)), { nil: undefined }),
    memory: fc.option(sizeText, { nil: undefined }),
  }, { requiredKeys: [] }), { nil: undefined }),
  env: fc.option(fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/), fc.string({ maxLength: 30 }), { maxKeys: 4 }), { nil: undefined }),
  health: fc.option(fc.record({
    http: fc.option(mostly(fc.constantFrom('/healthz', '/', '/a?b=c'), fc.constantFrom('nope', '/x y')), { nil: undefined }),
    interval: fc.option(durationText, { nil: undefined }),
  }, { requiredKeys: [] }), { nil: undefined }),
  upstream: fc.option(fc.record({
    method: fc.option(mostly(fc.constantFrom('round_robin', 'least_conn', 'ip_hash', 'random'), fc.constant('hash')), { nil: undefined }),
    maxFails: fc.option(mostly(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(-1, 1001)), { nil: undefined }),
    failTimeout: fc.option(durationText, { nil: undefined }),
    keepalive: fc.option(mostly(fc.integer({ min: 0, max: 10000 }), fc.constantFrom(-1, 10001)), { nil: undefined }),
  }, { requiredKeys: [] }), { nil: undefined }),
  placement: fc.option(fc.record({ spread: mostly(fc.constantFrom('host', 'rack'), fc.constant('a b')) }), { nil: undefined }),
  stopGracePeriod: fc.option(durationText, { nil: undefined }),
}, { requiredKeys: ['image', 'replicas', 'port', 'network'] })
  // fc.option's `undefined` must not become a key: JSON and YAML have no undefined.
  .map((b) => JSON.parse(JSON.stringify(b)) as Record<string, unknown>)

/** What nginx fail_timeout takes, up to the schema's 1h, mixed with near misses. */
export const failTimeoutText = fc.oneof(
  fc.integer({ min: 0, max: 3600 }).map((n) => `${n}s`),
  fc.integer({ min: 0, max: 60 }).map((n) => `${n}m`),
  fc.constantFrom('0h', '1h'),
  durationText,
)

/** Spec bodies inside the schema's ranges, except failTimeout which tries near misses too. */
export const upstreamSpecBody = fc.record({
  image: fc.constant('busybox'),
  replicas: fc.integer({ min: 0, max: 1000 }),
  port: fc.integer({ min: 1, max: 65535 }),
  network: fc.constant('mv0'),
  upstream: fc.record({
    method: fc.constantFrom('round_robin', 'least_conn', 'ip_hash', 'random'),
    maxFails: fc.integer({ min: 0, max: 1000 }),
    failTimeout: failTimeoutText,
    keepalive: fc.integer({ min: 0, max: 10000 }),
  }, { requiredKeys: [] }),
})

export const endpointFields = fc.record({
  containerId,
  ip: ipv4,
  port: fc.integer({ min: 1, max: 65535 }),
  weight: fc.integer({ min: 1, max: 100 }),
  state: fc.constantFrom('running', 'running', 'running', 'draining', 'paused'),
  health: fc.constantFrom('healthy', 'none', 'none', 'starting', 'unhealthy'),
  removed: fc.nat(7).map((n) => (n === 0 ? true : undefined)),
})
