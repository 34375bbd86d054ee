import t from 'tap'
import { plan, type HostAssignment } from '../../src/agent/reconciler/plan.js'
import { createOptions, managedOf, type ManagedContainer } from '../../src/agent/reconciler/container-spec.js'
import { checkServiceSpec } from '../../src/core/index.js'

const spec = checkServiceSpec({
  name: 'web', image: 'web:1', replicas: 2, port: 8080, network: 'mv0', command: ['/app', '-p', '8080'],
  resources: { cpu: 0.5, memory: '256Mi' }, env: { A: '1' }, health: { http: '/healthz', interval: '2s' }, stopGracePeriod: '20s',
})
const H1 = 'aaaaaaaaaaaaaaaa'
const H2 = 'bbbbbbbbbbbbbbbb'
const a = (replica: number, specHash = H1, s: typeof spec | null = spec, incarnation?: number): HostAssignment =>
  ({ service: 'web', replica, specHash, spec: s, ...(incarnation !== undefined ? { incarnation } : {}) })
let n = 0
const c = (replica: number, specHash = H1, running = true, service = 'web', incarnation = 0): ManagedContainer =>
  ({ id: `c${++n}`, name: `dg-${service}-${replica}`, service, replica, specHash, incarnation, running, health: 'none', created: n })
const show = (acts: ReturnType<typeof plan>): string[] => acts.map((x) => {
  switch (x.kind) {
    case 'create': return `create ${x.replica}`
    case 'start': return `start ${x.container.replica}`
    case 'replace': return `replace ${x.replica} ${x.current !== undefined ? 'reuse' : 'new'} old=${x.old.length}`
    case 'remove': return `remove ${x.container.replica} ${x.reason}`
  }
})

const cases: Array<{ desc: string, assignments: HostAssignment[], containers: ManagedContainer[], expected: string[] }> = [
  { desc: 'nothing', assignments: [], containers: [], expected: [] },
  { desc: 'missing replicas are created', assignments: [a(0), a(1)], containers: [], expected: ['create 0', 'create 1'] },
  { desc: 'running replicas are left alone', assignments: [a(0)], containers: [c(0)], expected: [] },
  { desc: 'a stopped replica is started', assignments: [a(0)], containers: [c(0, H1, false)], expected: ['start 0'] },
  { desc: 'unassigned containers are removed', assignments: [a(0)], containers: [c(0), c(1), c(0, H1, true, 'api')], expected: ['remove 1 unassigned', 'remove 0 unassigned'] },
  { desc: 'duplicates: the running one stays', assignments: [a(0)], containers: [c(0, H1, false), c(0)], expected: ['remove 0 duplicate'] },
  { desc: 'changed spec: rolling replace', assignments: [a(0, H2)], containers: [c(0, H1)], expected: ['replace 0 new old=1'] },
  { desc: 'interrupted replace reuses the new container', assignments: [a(0, H2)], containers: [c(0, H1), c(0, H2)], expected: ['replace 0 reuse old=1'] },
  { desc: 'old stopped container is just removed', assignments: [a(0, H2)], containers: [c(0, H1, false)], expected: ['remove 0 outdated', 'create 0'] },
  { desc: 'spec not caught up: leave it', assignments: [a(0, H2, null)], containers: [c(0, H1)], expected: [] },
  // Issue 19: placement bumps a replica's incarnation to replace an unhealthy container.
  { desc: 'bumped incarnation: rolling replace', assignments: [a(0, H1, spec, 1)], containers: [c(0, H1)], expected: ['replace 0 new old=1'] },
  { desc: 'bumped incarnation, new one exists: reuse it', assignments: [a(0, H1, spec, 2)], containers: [c(0, H1, true, 'web', 1), c(0, H1, true, 'web', 2)], expected: ['replace 0 reuse old=1'] },
  { desc: 'same incarnation: left alone', assignments: [a(0, H1, spec, 3)], containers: [c(0, H1, true, 'web', 3)], expected: [] },
  { desc: 'absent incarnation is 0', assignments: [a(0)], containers: [c(0, H1, true, 'web', 0)], expected: [] },
]

t.test('reconciler plan table', async (t) => {
  for (const x of cases) t.same(show(plan(x.assignments, x.containers)), x.expected, x.desc)
})

t.test('createOptions', async (t) => {
  const o = createOptions(spec, 1, H1)
  t.equal(o.name, 'dg-web-1-aaaaaaaa')
  t.same(o.Labels, {
    'driftgate.service': 'web', 'driftgate.port': '8080', 'driftgate.network': 'mv0',
    'driftgate.managed': 'true', 'driftgate.replica': '1', 'driftgate.spec': H1,
    // An HTTP check is the agent's own (issue 19): labels, no Docker healthcheck.
    'driftgate.health.http': '/healthz', 'driftgate.health.interval': '2000ms', 'driftgate.health.timeout': '2000ms',
    'driftgate.health.retries': '3', 'driftgate.health.start-period': '10000ms',
  })
  t.same(o.Cmd, ['/app', '-p', '8080'])
  t.same(o.Env, ['A=1'])
  t.equal(o.HostConfig?.NanoCpus, 5e8)
  t.equal(o.HostConfig?.Memory, 256 * 1024 * 1024)
  t.equal(o.HostConfig?.NetworkMode, 'mv0')
  t.equal(o.StopTimeout, 20)
  t.equal(o.Healthcheck, undefined, 'no wget inside the container: images without a shell work')
  const replaced = createOptions(spec, 1, H1, 2)
  t.equal(replaced.name, 'dg-web-1-aaaaaaaa-r2')
  t.equal(replaced.Labels?.['driftgate.incarnation'], '2')
  const cmd = createOptions(checkServiceSpec({ ...spec, health: { cmd: ['/bin/check', '-q'], interval: '3s', timeout: '1s', retries: 2, startPeriod: '4s' } }), 0, H1)
  t.same(cmd.Healthcheck, { Test: ['CMD', '/bin/check', '-q'], Interval: 3e9, Timeout: 1e9, Retries: 2, StartPeriod: 4e9 })
  t.equal(cmd.Labels?.['driftgate.health.http'], undefined)
  const bare = createOptions(checkServiceSpec({ name: 'x', image: 'x:1', replicas: 1, port: 80, network: 'mv0' }), 0, H1)
  t.equal(bare.Healthcheck, undefined)
  t.equal(bare.HostConfig?.Memory, undefined)
  t.equal(bare.Cmd, undefined)
})

t.test('managedOf', async (t) => {
  const labels = { 'driftgate.managed': 'true', 'driftgate.service': 'web', 'driftgate.replica': '2', 'driftgate.spec': H1 }
  t.match(managedOf({ Id: 'x', Names: ['/dg-web-2'], Labels: labels, State: 'running', Status: 'Up 3 seconds (healthy)', Created: 5 }),
    { id: 'x', name: 'dg-web-2', service: 'web', replica: 2, running: true, health: 'healthy' })
  t.equal(managedOf({ Id: 'x', Labels: { ...labels, 'driftgate.managed': 'false' } }), null)
  t.equal(managedOf({ Id: 'x', Labels: { ...labels, 'driftgate.replica': 'two' } }), null)
  t.equal(managedOf({ Id: 'x', Labels: labels, State: 'exited', Status: 'Exited (0)' })?.running, false)
  t.equal(managedOf({ Id: 'x', Labels: labels })?.incarnation, 0)
  t.equal(managedOf({ Id: 'x', Labels: { ...labels, 'driftgate.incarnation': '4' } })?.incarnation, 4)
  t.equal(managedOf({ Id: 'x', Labels: { ...labels, 'driftgate.incarnation': '-1' } }), null)
})
