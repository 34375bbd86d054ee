// container → EndpointInfo | rejection: a table of docker inspect JSON.
import t from 'tap'
import { classifyContainer, type Classified, type ContainerInspect } from '../../src/agent/docker/endpoint.js'
import { checkEvent } from '../../src/core/index.js'

const ID = 'a'.repeat(64)
const MV = 'n'.repeat(64)
const MV2 = 'm'.repeat(64)
const BR = 'b'.repeat(64)

function inspect (over: {
  labels?: Record<string, string> | null
  state?: ContainerInspect['State']
  networks?: Record<string, { NetworkID?: string, IPAddress?: string, MacAddress?: string }>
  id?: string
  name?: string
} = {}): ContainerInspect {
  return {
    Id: over.id ?? ID,
    Name: over.name ?? '/web-1',
    Config: { Labels: over.labels === undefined ? { 'driftgate.service': 'web' } : over.labels },
    State: over.state ?? { Running: true, Paused: false, Restarting: false, Health: null },
    NetworkSettings: {
      Networks: over.networks ?? { mv0: { NetworkID: MV, IPAddress: '10.240.1.10', MacAddress: '02:42:0A:F0:01:0A' } },
    },
  }
}

const ok = (extra: Record<string, unknown> = {}): Classified => ({
  kind: 'endpoint',
  endpoint: {
    service: 'web', containerId: ID, ip: '10.240.1.10', mac: '02:42:0a:f0:01:0a', port: 80, network: 'mv0',
    state: 'running', health: 'none', weight: 1, name: 'web-1', ...extra,
  } as never,
})
const rejected = (reason: string): { kind: 'rejected', reason: string } => ({ kind: 'rejected', reason })

const cases: Array<{ desc: string, input: ContainerInspect, ctx?: Record<string, unknown>, expected: unknown }> = [
  { desc: 'plain labelled container on the only macvlan network', input: inspect(), expected: ok() },
  { desc: 'no labels at all', input: inspect({ labels: null }), expected: { kind: 'unlabelled' } },
  { desc: 'other labels only', input: inspect({ labels: { foo: 'bar' } }), expected: { kind: 'unlabelled' } },
  { desc: 'hostile service label', input: inspect({ labels: { 'driftgate.service': 'x;}server{listen 1' } }), expected: rejected('invalid_service') },
  { desc: 'uppercase service', input: inspect({ labels: { 'driftgate.service': 'Web' } }), expected: rejected('invalid_service') },
  { desc: 'empty service', input: inspect({ labels: { 'driftgate.service': '' } }), expected: rejected('invalid_service') },
  { desc: 'port label', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.port': '8080' } }), expected: ok({ port: 8080 }) },
  { desc: 'port 0', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.port': '0' } }), expected: rejected('invalid_port') },
  { desc: 'port 65536', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.port': '65536' } }), expected: rejected('invalid_port') },
  { desc: 'port not a number', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.port': '80;' } }), expected: rejected('invalid_port') },
  { desc: 'port with leading zero', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.port': '080' } }), expected: rejected('invalid_port') },
  { desc: 'route labels carried, hosts lower-cased and sorted', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.hosts': 'WWW.a.test,a.test', 'driftgate.path': '/api' } }), expected: ok({ hosts: ['a.test', 'www.a.test'], path: '/api' }) },
  { desc: 'hostile hosts label', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.hosts': 'a.test;}server{listen 1' } }), expected: rejected('invalid_hosts') },
  { desc: 'IP literal in hosts label', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.hosts': '10.0.0.1' } }), expected: rejected('invalid_hosts') },
  { desc: 'hostile path label', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.hosts': 'a.test', 'driftgate.path': '/../x' } }), expected: rejected('invalid_path') },
  { desc: 'weight 100', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.weight': '100' } }), expected: ok({ weight: 100 }) },
  { desc: 'weight 101', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.weight': '101' } }), expected: rejected('invalid_weight') },
  { desc: 'weight 0', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.weight': '0' } }), expected: rejected('invalid_weight') },
  { desc: 'bad network label', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.network': '../x' } }), expected: rejected('invalid_network_label') },
  { desc: 'bad replica label', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.replica': '-1' } }), expected: rejected('invalid_replica') },
  { desc: 'bad spec label', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.spec': 'XYZ' } }), expected: rejected('invalid_spec') },
  {
    desc: 'managed replica labels',
    input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.managed': 'true', 'driftgate.replica': '2', 'driftgate.spec': 'abcdef12' } }),
    expected: ok({ managed: true, replica: 2, specHash: 'abcdef12' }),
  },
  { desc: 'invalid container id', input: inspect({ id: 'zz' }), expected: rejected('invalid_container') },
  { desc: 'not running', input: inspect({ state: { Running: false } }), expected: { kind: 'stopped', service: 'web' } },
  { desc: 'restarting', input: inspect({ state: { Running: true, Restarting: true } }), expected: { kind: 'stopped', service: 'web' } },
  { desc: 'paused', input: inspect({ state: { Running: true, Paused: true } }), expected: ok({ state: 'paused' }) },
  { desc: 'draining', input: inspect(), ctx: { draining: true }, expected: ok({ state: 'draining' }) },
  { desc: 'healthy', input: inspect({ state: { Running: true, Health: { Status: 'healthy' } } }), expected: ok({ health: 'healthy' }) },
  { desc: 'unhealthy', input: inspect({ state: { Running: true, Health: { Status: 'unhealthy' } } }), expected: ok({ health: 'unhealthy' }) },
  { desc: 'starting', input: inspect({ state: { Running: true, Health: { Status: 'starting' } } }), expected: ok({ health: 'starting' }) },
  { desc: 'odd health status', input: inspect({ state: { Running: true, Health: { Status: 'weird' } } }), expected: ok() },
  { desc: 'only on a bridge network', input: inspect({ networks: { bridge: { NetworkID: BR, IPAddress: '172.17.0.2', MacAddress: '02:42:ac:11:00:02' } } }), expected: rejected('no_macvlan_network') },
  { desc: 'no networks (disconnected)', input: inspect({ networks: {} }), expected: rejected('no_macvlan_network') },
  {
    desc: 'macvlan and bridge: macvlan wins',
    input: inspect({ networks: { bridge: { NetworkID: BR, IPAddress: '172.17.0.2', MacAddress: '02:42:ac:11:00:02' }, mv0: { NetworkID: MV, IPAddress: '10.240.1.10', MacAddress: '02:42:0a:f0:01:0a' } } }),
    expected: ok(),
  },
  {
    desc: 'two macvlan networks, no label',
    input: inspect({ networks: { mv0: { NetworkID: MV, IPAddress: '10.240.1.10', MacAddress: '02:42:0a:f0:01:0a' }, mv1: { NetworkID: MV2, IPAddress: '10.240.2.10', MacAddress: '02:42:0a:f0:02:0a' } } }),
    expected: rejected('ambiguous_network'),
  },
  {
    desc: 'two macvlan networks, label picks one',
    input: inspect({
      labels: { 'driftgate.service': 'web', 'driftgate.network': 'mv1' },
      networks: { mv0: { NetworkID: MV, IPAddress: '10.240.1.10', MacAddress: '02:42:0a:f0:01:0a' }, mv1: { NetworkID: MV2, IPAddress: '10.240.2.10', MacAddress: '02:42:0a:f0:02:0a' } },
    }),
    expected: ok({ ip: '10.240.2.10', mac: '02:42:0a:f0:02:0a', network: 'mv1' }),
  },
  {
    desc: 'two macvlan networks, --network picks one',
    input: inspect({ networks: { mv0: { NetworkID: MV, IPAddress: '10.240.1.10', MacAddress: '02:42:0a:f0:01:0a' }, mv1: { NetworkID: MV2, IPAddress: '10.240.2.10', MacAddress: '02:42:0a:f0:02:0a' } } }),
    ctx: { defaultNetwork: 'mv0' },
    expected: ok(),
  },
  { desc: 'label names a network it is not on', input: inspect({ labels: { 'driftgate.service': 'web', 'driftgate.network': 'mv9' } }), expected: rejected('network_not_attached') },
  { desc: 'no IP on the network', input: inspect({ networks: { mv0: { NetworkID: MV, IPAddress: '', MacAddress: '02:42:0a:f0:01:0a' } } }), expected: rejected('no_ip') },
  { desc: 'no MAC on the network', input: inspect({ networks: { mv0: { NetworkID: MV, IPAddress: '10.240.1.10', MacAddress: '' } } }), expected: rejected('no_ip') },
  { desc: 'odd container name is left out', input: inspect({ name: '/-odd name' }), expected: { kind: 'endpoint', endpoint: { name: undefined } } },
]

t.test('classifyContainer table', async (t) => {
  for (const c of cases) {
    const got = classifyContainer(c.input, { macvlan: new Set([MV, MV2]), ...c.ctx })
    t.match(got, c.expected, c.desc)
    if (got.kind === 'endpoint') {
      // Whatever the agent would publish must pass the wire schema.
      t.doesNotThrow(() => checkEvent({ v: 1, kind: 'upsert', host: 'h1', instance: '000000001-abcdef', seq: 1, time: 1, sentAt: 1, endpoint: got.endpoint }), `${c.desc}: valid on the wire`)
    }
    if (got.kind === 'rejected') t.type(got.message, 'string', `${c.desc}: has a message`)
  }
})

t.test('rejections keep the service when it is valid (for removals)', async (t) => {
  const got = classifyContainer(inspect({ networks: {} }), { macvlan: new Set([MV]) })
  t.match(got, { kind: 'rejected', reason: 'no_macvlan_network', service: 'web' })
  const bad = classifyContainer(inspect({ labels: { 'driftgate.service': 'x;}server{listen 1' } }), { macvlan: new Set([MV]) })
  t.equal((bad as { service?: string }).service, undefined)
})
