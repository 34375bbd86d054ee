import t from 'tap'
import { captureProgram } from './cli-fixtures.js'
import { ConfigError } from '../../src/core/index.js'
import { resolveRegistryConfig } from '../../src/registry/index.js'
import { timings } from '../../src/registry/config.js'

const program = captureProgram

t.test('registry --help lists its options and an example', async (t) => {
  const { p, out } = program()
  await t.rejects(p.parseAsync(['node', 'driftgate', 'registry', '--help']))
  for (const s of ['--replicas', '--host-grace', '--http-port', '--dns-port', '--api-token', '--domain', '--nats', '--metrics-port', 'Examples:']) {
    t.match(out(), s)
  }
})

const bad: Array<[string, string[], string]> = [
  ['a duration without unit', ['--host-grace', '30'], 'hostGrace'],
  ['replicas out of range', ['--replicas', '7'], 'replicas'],
  ['a port that is not a number', ['--http-port', 'web'], 'httpPort'],
  ['a domain with spaces', ['--domain', 'my zone'], 'domain'],
]
for (const [desc, args, field] of bad) {
  t.test(`bad config is refused before connecting: ${desc}`, async (t) => {
    const { p } = program()
    const err = await p.parseAsync(['node', 'driftgate', 'registry', '--nats', 'nats://127.0.0.1:1', ...args]).catch((e: unknown) => e)
    t.type(err, ConfigError)
    t.match((err as Error).message, field)
  })
}

t.test('defaults and derived timings', async (t) => {
  const cfg = resolveRegistryConfig()
  t.match(cfg, { replicas: 1, hostGrace: '30s', httpPort: 7070, dnsPort: 8600, domain: 'driftgate', nats: 'nats://127.0.0.1:4222' })
  t.match(timings(cfg), { hostGraceMs: 30_000, heartbeatMs: 2000, suspectMs: 6000, ackWaitMs: 30_000, tombstoneTtlMs: 600_000, sweepMs: 1000, ipamQuarantineMs: 60_000, placementLeaseMs: 10_000, httpRequestTimeoutMs: 30_000 })
  t.same(cfg.ms, timings(cfg), 'resolved once into ms')
  t.equal(resolveRegistryConfig({}, { DRIFTGATE_HOST_GRACE: '45s' }).hostGrace, '45s', 'env is read')
  t.throws(() => resolveRegistryConfig({ replicas: 0 }), ConfigError)
})
