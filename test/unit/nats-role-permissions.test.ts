// rolePermissions() (what `up` and `demo` give each role's NATS user) and the
// README's "NATS credentials per role" table must say the same thing.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { rolePermissions, type NatsRole } from '../../src/bus/index.js'
import { projectRoot } from '../../src/paths.js'

const subjectsIn = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]).filter((s) => s.includes('.'))

function readmeRow (role: string): { publish: string[], subscribe: string[] } {
  const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('### NATS credentials per role'))
  const line = section.split('\n').find((l) => l.startsWith(`| ${role}`))
  if (line === undefined) throw new Error(`README: no "${role}" row`)
  const cells = line.split('|').map((c) => c.trim())
  return { publish: subjectsIn(cells[2]), subscribe: subjectsIn(cells[3]) }
}

const sorted = (a: string[]): string[] => [...a].sort()

for (const role of ['agent', 'registry', 'renderer'] as NatsRole[]) {
  t.test(`${role}: code and README table agree`, async (t) => {
    const code = rolePermissions(role, { host: 'h1', renderer: 'edge1', prefix: 'driftgate' })
    const table = readmeRow(role)
    t.same(sorted(code.publish), sorted(table.publish), 'publish')
    t.same(sorted(code.subscribe), sorted(table.subscribe), 'subscribe')
  })
}

t.test('host, renderer id and prefix go into the subjects', async (t) => {
  const agent = rolePermissions('agent', { host: 'web-7', prefix: 'dg' })
  t.ok(agent.publish.includes('dg.events.web-7') && agent.publish.includes('dg.heartbeat.web-7'), 'own host, own prefix')
  t.notOk(agent.publish.some((s) => s.includes('h1')), 'no other host')
  t.ok(rolePermissions('renderer', { renderer: 'edge9' }).publish.includes('driftgate.applied.edge9'))
})

t.test('an identity that is not one subject token is refused', async (t) => {
  t.throws(() => rolePermissions('agent', {}), /host/)
  t.throws(() => rolePermissions('agent', { host: 'h1.>' }), /host/)
  t.throws(() => rolePermissions('renderer', { renderer: '*' }), /renderer/)
})
