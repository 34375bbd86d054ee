// Agent configuration: schema via loadConfig, direct settings, docker address.
import t from 'tap'
import { agentSchema, agentSettings, dockerOptions, parseHostLabels } from '../../src/agent/config.js'
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

t.test('agentSettings checks what createAgent is given', async (t) => {
  const s = agentSettings({ hostId: 'h1', hostLabel: ['rack=r1', 'zone=a=b'], resyncInterval: 1500, watchdog: '5s' })
  t.match(s, { hostId: 'h1', prefix: 'driftgate', resyncMs: 1500, heartbeatMs: 2000, watchdogMs: 5000, hostLabels: { rack: 'r1', zone: 'a=b' } })
  t.same(agentSettings({ hostId: 'h1', hostLabel: { x: 'y' } }).hostLabels, { x: 'y' })
  const err = t.throws(() => agentSettings({ hostId: 'bad host', hostAddress: 'nope', resyncInterval: 'x' })) as ConfigError
  t.equal(err.problems.length, 3, 'every problem reported at once')
  t.throws(() => parseHostLabels(['novalue']), ConfigError)
  t.throws(() => parseHostLabels(['=v']), ConfigError)
})

t.test('docker address forms', async (t) => {
  t.same(dockerOptions(undefined), { socketPath: '/var/run/docker.sock' })
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
