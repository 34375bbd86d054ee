import t from 'tap'
import { ValidationError } from '../../src/core/index.js'
import { specsFromText, describeWrite } from '../../src/cli/apply.js'
import { parseTargets, progressOf, progressLine, isDone } from '../../src/cli/scale.js'
import { renderStatus } from '../../src/cli/status.js'
import { ApiClient } from '../../src/cli/client.js'
import { buildProgram } from '../../src/cli/program.js'

t.test('specsFromText: one spec per YAML document; JSON works; errors name the file and field', async (t) => {
  t.same(specsFromText('name: web\nreplicas: 2\n', 'web.yaml'), [{ name: 'web', replicas: 2 }])
  t.same(specsFromText('{"name":"api"}', 'api.json'), [{ name: 'api' }])
  t.same(specsFromText('name: a\n---\nname: b\n---\n', 'x.yaml').map((s) => s.name), ['a', 'b'])
  t.throws(() => specsFromText('replicas: 2\n', 'web.yaml'), /web.yaml[\s\S]*\/name/)
  t.throws(() => specsFromText('name: [oops\n', 'web.yaml'), ValidationError)
  t.throws(() => specsFromText('- a\n- b\n', 'web.yaml'), /must be a mapping/)
  t.throws(() => specsFromText('', 'web.yaml'), /no spec/)
  t.equal(describeWrite({ service: 'web', version: 1, changed: true, created: true, replicas: 3 }), 'web: created (version 1, 3 replicas)')
  t.equal(describeWrite({ service: 'web', version: 4, changed: false, created: false, replicas: 1 }), 'web: unchanged (version 4, 1 replica)')
})

t.test('parseTargets', async (t) => {
  t.same(parseTargets(['web=5', 'api=0']), [{ service: 'web', replicas: 5 }, { service: 'api', replicas: 0 }])
  for (const bad of ['web', 'web=', 'web=-1', 'Web=2', 'web=two', '=3']) t.throws(() => parseTargets([bad]), /expected <service>=<replicas>/, bad)
  t.throws(() => parseTargets([]), /at least one/)
})

t.test('progress', async (t) => {
  const eps = [
    { state: 'running', health: 'healthy' }, { state: 'running', health: 'starting' },
    { state: 'draining', health: 'healthy' }, { state: 'running', health: 'none' },
  ]
  const p = progressOf(3, eps)
  t.same(p, { desired: 3, running: 3, healthy: 2, draining: 1, unschedulable: undefined })
  t.equal(progressLine('web', p), 'web: 3/3 running, 2/3 healthy, 1 draining')
  t.notOk(isDone(p))
  t.ok(isDone(progressOf(1, [{ state: 'running', health: 'healthy' }])))
  t.equal(progressLine('big', progressOf(1, [], '1 unschedulable: needs 64Gi memory')), 'big: 0/1 running, 0/1 healthy; 1 unschedulable: needs 64Gi memory')
})

t.test('renderStatus', async (t) => {
  const text = renderStatus({
    leader: { holder: 'reg-a', expiresAt: 2e12 },
    failStatic: false,
    services: [{ name: 'web', version: 3, desired: 6, assigned: 6, hosts: { h1: 2, h2: 2, h3: 2 } }],
    hosts: [{ host: 'h1', status: 'up', labels: { rack: 'a' }, capacity: { cpus: 4, memoryBytes: 8 * 1024 ** 3 }, used: { cpus: 1, memoryBytes: 512 * 1024 ** 2 }, replicas: 2 }],
    unschedulable: [{ service: 'big', replica: 0, reason: 'needs 64Gi memory, largest free is 8Gi on h1' }, { service: 'big', replica: 1, reason: 'needs 64Gi memory, largest free is 8Gi on h1' }],
  }, [{ name: 'web', version: 3, endpoints: { healthy: 5, total: 6 } }], 1e12)
  t.match(text, /placement leader: reg-a\n/)
  t.match(text, /SERVICE\s+VERSION\s+DESIRED\s+ASSIGNED\s+RUNNING\s+HEALTHY\s+HOSTS\nweb\s+3\s+6\s+6\s+6\s+5\s+h1:2 h2:2 h3:2/)
  t.match(text, /h1\s+up\s+1\/4\s+512Mi\/8Gi\s+2\s+rack=a/)
  t.match(text, /big\s+0,1\s+needs 64Gi memory, largest free is 8Gi on h1/)
})

t.test('client: unreachable API and bad URL give advice', async (t) => {
  const c = new ApiClient({ api: 'http://127.0.0.1:1' })
  await t.rejects(c.get('/v1/placement'), /cannot reach the registry API at http:\/\/127.0.0.1:1 .*driftgate registry.*DRIFTGATE_API/)
  t.throws(() => new ApiClient({ api: 'localhost:7070' }), /not an http\(s\) URL/)
  t.equal(new ApiClient({}, { DRIFTGATE_API: 'http://x:1/' }).base, 'http://x:1')
})

t.test('every client command is registered and its help has an example', async (t) => {
  const program = buildProgram()
  for (const name of ['apply', 'scale', 'status', 'rm']) {
    const cmd = program.commands.find((c) => c.name() === name)
    t.ok(cmd, name)
    let help = ''
    cmd!.configureOutput({ writeOut: (s) => { help += s } })
    cmd!.outputHelp()
    t.match(help, /Example/, `${name} --help has an example`)
    t.match(help, /--api/, `${name} takes --api`)
  }
})
