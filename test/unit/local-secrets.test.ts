// Files that hold the secrets of `driftgate up` / `driftgate demo`: the demo
// dir is made fresh with mode 0700 (an existing dir or a symlink is refused,
// saying what to do), password files and the nats-server config are 0600,
// and demo.json holds no token. Real files in a temp dir.
import t from 'tap'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkDemoDir, createDemoDir, readState, writeState, type DemoState } from '../../src/demo/state.js'
import { localNatsUsers, writeLocalNatsAuth } from '../../src/up/secrets.js'
import { rolePermissions } from '../../src/bus/index.js'

const base = mkdtempSync(join(tmpdir(), 'dg-secrets-'))
t.teardown(() => rmSync(base, { recursive: true, force: true }))
const mode = (p: string): number => statSync(p).mode & 0o777

t.test('the demo dir is made fresh with mode 0700', async (t) => {
  const old = process.umask(0o022)
  t.teardown(() => process.umask(old))
  const dir = join(base, 'parent', 'demo')
  createDemoDir(dir)
  t.equal(mode(dir), 0o700)
  t.throws(() => createDemoDir(dir), /already exists[\s\S]*driftgate demo down --dir/, 'a second create is refused and says how to clean up')
})

t.test('a symlinked or pre-existing demo dir is refused and left alone', async (t) => {
  const target = join(base, 'elsewhere')
  mkdirSync(target)
  writeFileSync(join(target, 'keep'), 'x')
  const link = join(base, 'link')
  symlinkSync(target, link)
  t.throws(() => createDemoDir(link), /symbolic link/)
  t.throws(() => readState(link), /symbolic link[\s\S]*does not touch it/, 'demo down/stop-host do not follow it either')
  t.ok(existsSync(join(target, 'keep')), 'the target is untouched')
  const open = join(base, 'open')
  mkdirSync(open)
  chmodSync(open, 0o777)
  t.throws(() => checkDemoDir(open), /writable by group or others/)
})

t.test('demo.json is 0600 and carries no token', async (t) => {
  const dir = join(base, 'state')
  createDemoDir(dir)
  const s: DemoState = { v: 1, dir, createdAt: '', ports: { nginx: 1, http: 2, dns: 3, nats: 4, status: 5 }, pids: {}, drivers: {}, stopped: [] }
  writeState(s)
  t.equal(mode(join(dir, 'demo.json')), 0o600)
  t.notMatch(readFileSync(join(dir, 'demo.json'), 'utf8'), /token/i)
})

t.test('NATS users: a 0700 folder, 0600 password files and config, permissions from rolePermissions', async (t) => {
  const dir = join(base, 'secrets')
  mkdirSync(dir, { mode: 0o755 })
  writeFileSync(join(dir, 'nats-registry.pass'), 'old\n', { mode: 0o644 }) // left by an older run
  const auth = writeLocalNatsAuth(dir, localNatsUsers(['h1', 'h2'], 'edge1'))
  t.equal(mode(dir), 0o700, 'an existing folder is tightened')
  t.same(Object.keys(auth.users).sort(), ['agent-h1', 'agent-h2', 'registry', 'renderer-edge1'])
  for (const u of Object.values(auth.users)) {
    t.equal(mode(u.passFile), 0o600, `${u.user}: password file 0600`)
    t.equal(readFileSync(u.passFile, 'utf8').trim(), u.pass)
    t.ok(u.pass.length >= 32, 'a long random password')
  }
  t.not(auth.users.registry.pass, 'old', 'fresh at every start')
  t.equal(mode(auth.confFile), 0o600, 'nats-server config 0600')
  const conf = JSON.parse(readFileSync(auth.confFile, 'utf8').replace(/^#.*\n/, '')) as { authorization: { users: Array<{ user: string, permissions: unknown }> } }
  const agent = conf.authorization.users.find((u) => u.user === 'agent-h2')
  t.same(agent?.permissions, rolePermissions('agent', { host: 'h2', prefix: 'driftgate' }), 'each user gets its role\'s permissions')
  const link = join(base, 'secrets-link')
  symlinkSync(dir, link)
  t.throws(() => writeLocalNatsAuth(link, localNatsUsers([], 'x')), /not a directory/, 'a symlinked secrets folder is refused')
})
