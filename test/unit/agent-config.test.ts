// Agent configuration: schema via loadConfig, direct settings, docker address.
import t from 'tap'
import { agentSchema, resolveAgentConfig, dockerOptions, parseHostLabels } from '../../src/agent/config.js'
import { ConfigError, loadConfig } from '../../src/core/index.js'
import { buildProgram } from '../../src/cli/program.js'

t.test('loadConfig with the agent schema', async (t) => {
  const cfg = loadConfig<Record<string, unknown>>({ role: 'agent', schema: agentSchema, flags: { hostId: 'h1', hostLabel: ['rack=r1'] }, env: {} })
  t.match(cfg, { hostId: 'h1', docker: '/var/run/docker.sock', resyncInterval: '30s', heartbeatInterval: '2s', hostLabel: ['rack=r1'] })
  t.throws(() => loadConfig({ role: 'agent', schema: agentSchema, flags: {}, env: {} }), ConfigError, 'host id required')
  t.throws(() => loadConfig({ role: 'agent', schema: agentSchema, flags: { hostId: 'H_1' }, env: {} }), { code: 'DG_CONFIG_INVALID' })
  t.throws(() => loadConfig({ role: 'agent', schema: agentSchema, flags: { hostId: 'h1', resyncInterval: 'soon' }, env: {} }), ConfigError)
  t.throws(() => loadConfig({ role: 'agent', schema: agentSchema, flags: { hostId: 'h1', hostAddress: '1.2.3' }, env: {} }), ConfigError)
  const env = loadConfig<Record<string, unknown>>({ role: 'agent', schema: agentSchema, env: { DRIFTGATE_HOST_ID: 'h2', DRIFTGATE_HOST_LABEL: 'a=1,b=2' } })
  t.match(env, { hostId: 'h2', hostLabel: ['a=1', 'b=2'] })
})

t.test('resolveAgentConfig: defaults from the schema, durations in ms, every problem at once', async (t) => {
  const s = resolveAgentConfig({ hostId: 'h1', hostLabel: ['rack=r1', 'zone=a=b'], resyncInterval: 1500, watchdog: '5s' })
  t.match(s, { hostId: 'h1', prefix: 'driftgate', resyncMs: 1500, heartbeatMs: 2000, watchdogMs: 5000, hostLabels: { rack: 'r1', zone: 'a=b' } })
  t.ok(Object.isFrozen(s), 'frozen')
  const err = t.throws(() => resolveAgentConfig({ hostId: 'bad host', hostAddress: 'nope', resyncInterval: 'x' })) as ConfigError
  t.equal(err.problems.length, 3, 'every problem reported at once')
  t.throws(() => resolveAgentConfig({ hostId: 'h1', docker: 'ftp://x' }), ConfigError, 'an unusable docker address fails before connecting')
  t.throws(() => parseHostLabels(['novalue']), ConfigError)
  t.throws(() => parseHostLabels(['=v']), ConfigError)
  t.throws(() => resolveAgentConfig({ hostId: 'h1', hostLabel: ['novalue'] }), ConfigError)
})

t.test('docker address forms', async (t) => {
  t.same(dockerOptions('/run/x.sock'), { socketPath: '/run/x.sock' })
  t.same(dockerOptions('unix:///run/x.sock'), { socketPath: '/run/x.sock' })
  t.same(dockerOptions('tcp://10.0.0.1:2375'), { host: '10.0.0.1', port: 2375, protocol: 'http' })
  t.throws(() => dockerOptions('ftp://x'), ConfigError)
})

t.test('agent command help has an example', async (t) => {
  const program = buildProgram()
  const agent = program.commands.find((c) => c.name() === 'agent')
  t.ok(agent, 'agent command registered')
  let out = ''
  agent!.configureOutput({ writeOut: (s) => { out += s } })
  agent!.outputHelp()
  t.match(out, /--host-id/)
  t.match(out, /--host-label/)
  t.match(out, /Example:\s+driftgate agent --host-id h1/)
})

t.test('reconcile and IPAM driver options', async (t) => {
  t.match(resolveAgentConfig({ hostId: 'h1' }), { reconcile: true, ipamDriverName: 'driftgate', ipamSocketDir: '/run/docker/plugins' }, 'defaults: driver on as driftgate')
  t.match(resolveAgentConfig({ hostId: 'h1', reconcile: false, ipamDriver: false }), { reconcile: false, ipamDriverName: undefined }, '--no-reconcile --no-ipam-driver')
  t.match(resolveAgentConfig({}, { DRIFTGATE_HOST_ID: 'h1', DRIFTGATE_RECONCILE: 'false', DRIFTGATE_IPAM_DRIVER_NAME: 'dg-h1' }), { reconcile: false, ipamDriverName: 'dg-h1' }, 'from the environment')
  t.throws(() => resolveAgentConfig({ hostId: 'h1', ipamDriverName: '../x' }), ConfigError, 'a driver name is a file name')
})

t.test('command line: --no-reconcile / --no-ipam-driver are flags only when typed', async (t) => {
  const { explicitFlags } = await import('../../src/cli/common.js')
  const parse = (argv: string[]): Record<string, unknown> => {
    const cmd = buildProgram().commands.find((c) => c.name() === 'agent')!
    cmd.parseOptions(argv)
    return explicitFlags(cmd)
  }
  t.same(parse(['--host-id', 'h1']), { hostId: 'h1' }, 'nothing typed: env and YAML still decide')
  t.same(parse(['--host-id', 'h1', '--no-reconcile', '--no-ipam-driver']), { hostId: 'h1', reconcile: false, ipamDriver: false })
  t.same(parse(['--host-id', 'h1', '--ipam-driver-name', 'dg-h1', '--ipam-socket-dir', '/tmp/p']), { hostId: 'h1', ipamDriverName: 'dg-h1', ipamSocketDir: '/tmp/p' })
  const cfg = loadConfig<Record<string, unknown>>({ role: 'agent', schema: agentSchema, flags: parse(['--host-id', 'h1']), env: { DRIFTGATE_RECONCILE: 'false' } })
  t.equal(cfg.reconcile, false, 'DRIFTGATE_RECONCILE=false is not overridden by a commander default')
})
