// Issue 15 hole 8: a container whose address on its network is loopback,
// link-local, 0/8, multicast or broadcast is not published as an endpoint
// (a network with such a subnet, or a forged inspect, must not make nginx
// proxy to the proxy's own machine or the cloud metadata address).
import t from 'tap'
import { classifyContainer, type ContainerInspect } from '../../src/agent/docker/endpoint.js'

const ID = 'a'.repeat(64)
const MV = 'n'.repeat(64)
const inspect = (ip: string): ContainerInspect => ({
  Id: ID,
  Name: '/web-1',
  Config: { Labels: { 'driftgate.service': 'web' } },
  State: { Running: true },
  NetworkSettings: { Networks: { mv0: { NetworkID: MV, IPAddress: ip, MacAddress: '02:42:0a:f0:01:0a' } } },
})
const ctx = { macvlan: new Set([MV]) }

t.test('refused addresses', async (t) => {
  for (const ip of ['127.0.0.1', '127.1.2.3', '169.254.169.254', '0.0.0.0', '224.0.0.251', '255.255.255.255']) {
    const c = classifyContainer(inspect(ip), ctx)
    t.match(c, { kind: 'rejected', reason: 'bad_ip', service: 'web' }, ip)
    if (c.kind === 'rejected') t.match(c.message, ip)
  }
})

t.test('LAN addresses still pass', async (t) => {
  for (const ip of ['10.240.1.10', '192.168.0.20', '172.20.1.1']) {
    t.match(classifyContainer(inspect(ip), ctx), { kind: 'endpoint', endpoint: { ip } }, ip)
  }
})
