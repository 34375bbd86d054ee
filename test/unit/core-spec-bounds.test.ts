// Issue 15 hole 4: spec fields that escape the box, and hole 8: endpoint IPs
// that are not a container's. Every case here was accepted before the fix.
import t from 'tap'
import {
  checkServiceSpec, checkEvent, checkSnapshot, checkEndpointRecord, isEndpointIPv4, endpointIpProblem,
} from '../../src/core/index.js'

const base = { name: 'web', image: 'busybox', replicas: 1, port: 80, network: 'mv0' }
const ok = (v: object): boolean => checkServiceSpec.problems(structuredClone(v)) === null

t.test('network: only a user-defined network name', async (t) => {
  for (const n of ['host', 'bridge', 'none', 'default', 'HOST', 'Bridge', 'container:abc', 'ns:x']) {
    t.notOk(ok({ ...base, network: n }), `network ${n} refused`)
  }
  for (const n of ['mv0', 'macvlan-a', 'lan.10', 'host1', 'bridged', 'none2']) t.ok(ok({ ...base, network: n }), `network ${n} accepted`)
  const p = checkServiceSpec.problems({ ...base, network: 'host' })
  t.match(p?.[0], { field: '/network', message: /host network|Docker's own|MacVLAN/ })
})

t.test('durations have upper bounds', async (t) => {
  t.notOk(ok({ ...base, stopGracePeriod: '99999999999999999999h' }), 'absurd grace period')
  t.notOk(ok({ ...base, stopGracePeriod: '61m' }), 'grace period over 1h')
  t.ok(ok({ ...base, stopGracePeriod: '1h' }), 'grace period of exactly 1h')
  t.ok(ok({ ...base, stopGracePeriod: '1.5s' }), 'fractional grace period (Docker rounds up to seconds)')
  t.notOk(ok({ ...base, health: { http: '/h', interval: '2h' } }), 'health interval over 1h')
  t.notOk(ok({ ...base, health: { http: '/h', interval: '0.4ms' } }), 'health interval under 1ms (Docker refuses it)')
  t.ok(ok({ ...base, health: { http: '/h', interval: '250ms' } }), 'health interval in ms')
  t.notOk(ok({ ...base, upstream: { failTimeout: '2h' } }), 'failTimeout over 1h')
  const p = checkServiceSpec.problems({ ...base, stopGracePeriod: '2h' })
  t.match(p?.[0], { field: '/stopGracePeriod', message: /at most 1h/ })
})

t.test('failTimeout: only what nginx fail_timeout accepts', async (t) => {
  for (const v of ['250ms', '1.5s', '0.5m', '1500ms', '10', 's', '1d']) t.notOk(ok({ ...base, upstream: { failTimeout: v } }), `failTimeout ${v} refused`)
  for (const v of ['0s', '1s', '10s', '59m', '1h', '3600s', '60m']) t.ok(ok({ ...base, upstream: { failTimeout: v } }), `failTimeout ${v} accepted`)
  const p = checkServiceSpec.problems({ ...base, upstream: { failTimeout: '250ms' } })
  t.match(p?.[0], { field: '/upstream/failTimeout', message: /whole seconds/ })
})

t.test('memory has an upper bound', async (t) => {
  t.notOk(ok({ ...base, resources: { memory: '99999999999999999999Ti' } }), 'absurd memory')
  t.ok(ok({ ...base, resources: { memory: '256Mi' } }))
})

const cid = 'a'.repeat(64)
const endpoint = { service: 'web', containerId: cid, ip: '10.240.1.5', mac: '02:42:0a:f0:01:05', port: 80, network: 'mv0', state: 'running', health: 'none', weight: 1 }
const BAD_IPS = ['127.0.0.1', '127.255.255.254', '169.254.169.254', '169.254.0.1', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '255.255.255.255']
const GOOD_IPS = ['10.240.1.5', '192.168.1.10', '172.16.0.1', '126.255.255.255', '128.0.0.1', '169.253.1.1', '169.255.0.1', '223.255.255.254', '1.0.0.0']

t.test('endpoint IPs: loopback, link-local, this-network, multicast and broadcast refused', async (t) => {
  for (const ip of BAD_IPS) {
    t.notOk(isEndpointIPv4(ip), `${ip} is not an endpoint address`)
    t.type(endpointIpProblem(ip), 'string')
    const ev = { v: 1, kind: 'upsert', host: 'h1', instance: '00abcdefg-0a0b0c', seq: 1, time: 1, sentAt: 2, endpoint: { ...endpoint, ip } }
    t.not(checkEvent.problems(ev), null, `event with ${ip} refused`)
    const snap = { v: 1, host: 'h1', instance: ev.instance, seq: 3, time: 1, sentAt: 1, endpoints: [{ ...endpoint, ip }], containers: [cid] }
    t.not(checkSnapshot.problems(snap), null, `snapshot with ${ip} refused`)
    const rec = { ...endpoint, ip, v: 1, host: 'h1', instance: ev.instance, seq: 1, updatedAt: 1 }
    t.not(checkEndpointRecord.problems(rec), null, `endpoint record with ${ip} refused`)
  }
  for (const ip of GOOD_IPS) {
    t.ok(isEndpointIPv4(ip), `${ip} is an endpoint address`)
    t.equal(endpointIpProblem(ip), null)
  }
  for (const v of ['10.0.0.256', '010.1.1.1', '', 'x', 42, null]) t.notOk(isEndpointIPv4(v), `${String(v)} not an address`)
})
