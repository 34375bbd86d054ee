// History, rollback, ps, the activity feed and the CLI commands on top of
// them (history, ps, rollback, apply --dry-run, status --watch) against a
// real registry (all built-in components) on a real nats-server.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connect } from 'nats'
import { cliArgs, startNats, freePort } from '../harness/index.js'
import { ScriptedAgent, endpoint, cid } from './registry-fixtures.js'
import { createRegistry, resolveRegistryConfig } from '../../src/registry/index.js'
import { silentLogger, specHash, checkServiceSpec } from '../../src/core/index.js'
import { ApiClient } from '../../src/client/index.js'

const run = promisify(execFile)
const TOKEN = 'history-token-1'
const nats = await startNats()
t.teardown(async () => { await nats.stop() })
const nc = await connect({ servers: nats.url })
t.teardown(async () => { await nc.close() })
const httpPort = await freePort()
const reg = createRegistry(resolveRegistryConfig({ nats: nats.url, httpPort, httpHost: '127.0.0.1', dnsPort: await freePort(), apiToken: TOKEN, placement: false }), { nc, log: silentLogger() })
await reg.start()
t.teardown(async () => { await reg.close() })
const api = `http://127.0.0.1:${httpPort}`
const client = new ApiClient({ api, token: TOKEN })
const anon = new ApiClient({ api })
const dir = mkdtempSync(join(tmpdir(), 'dg-history-'))
const v1 = { name: 'web', image: 'web:1', replicas: 3, port: 80, network: 'mv0', env: { SECRET: 's3cret' } }
const cli = async (...args: string[]): Promise<string> =>
  (await run(process.execPath, [...cliArgs(), ...args, '--api', api, '--token', TOKEN], { timeout: 30_000 })).stdout

t.test('every write is a version with who and why; env only for the write token', async (t) => {
  await client.put('/v1/services/web', v1)
  await client.patch('/v1/services/web', { replicas: 5 })
  await client.put('/v1/services/web', { ...v1, replicas: 5, image: 'web:2' })
  const h = await anon.get<{ current: number, versions: Array<{ version: number, reason: string, by: string, image: string }> }>('/v1/services/web/history')
  t.equal(h.current, 3)
  t.same(h.versions.map((v) => [v.version, v.reason, v.image]), [[3, 'apply', 'web:2'], [2, 'scale to 5', 'web:1'], [1, 'apply', 'web:1']])
  t.match(h.versions[0].by, /^cli token:[0-9a-f]{8}$/, 'the client and a hash prefix')
  t.notOk(JSON.stringify(h).includes(TOKEN), 'never the token')
  const hidden = await anon.get<{ spec: { env: Record<string, string> } }>('/v1/services/web/history/1')
  t.same(hidden.spec.env, { SECRET: '<hidden>' }, 'env hidden without the write token')
  const shown = await client.get<{ spec: { env: Record<string, string> } }>('/v1/services/web/history/1')
  t.same(shown.spec.env, { SECRET: 's3cret' })
  await t.rejects(anon.get('/v1/services/web/history/9'), { code: 'NOT_FOUND' })
})

t.test('rollback applies the old spec as a new version; bad input changes nothing', async (t) => {
  await t.rejects(anon.post('/v1/services/web/rollback', {}), { code: 'UNAUTHORIZED' })
  await t.rejects(client.post('/v1/services/web/rollback', { to: 3 }), /earlier version/)
  await t.rejects(client.post('/v1/services/web/rollback', { to: 'x' }), /version number/)
  const r = await client.post<{ version: number, to: number, changed: boolean }>('/v1/services/web/rollback', { to: 1 })
  t.match(r, { version: 4, to: 1, changed: true })
  const cur = await client.get<{ spec: { image: string, replicas: number } }>('/v1/services/web')
  t.match(cur.spec, { image: 'web:1', replicas: 3 })
  const out = await cli('history', 'web')
  t.match(out, /VERSION\s+WHEN\s+BY\s+REASON\s+IMAGE\s+REPLICAS/)
  t.match(out, /4\*\s+\S+\s+cli token:[0-9a-f]{8}\s+rollback to 1\s+web:1\s+3/)
  const prev = await cli('rollback', 'web')
  t.match(prev, /version 3 applied again as version 5 \(was 4\)/, 'default: the previous version')
})

t.test('ps: each replica with its spec version', async (t) => {
  const spec = checkServiceSpec({ ...v1, replicas: 5, image: 'web:2' })
  const agent = new ScriptedAgent(nc, 'h1')
  for (const n of [1, 2]) await agent.upsert({ ...endpoint('web', n), replica: n, managed: true, specHash: specHash(spec), health: 'healthy' })
  let out = ''
  for (let i = 0; i < 100 && !/\n2 /.test(out); i++) { out = await cli('ps', 'web'); await new Promise((resolve) => setTimeout(resolve, 100)) }
  t.match(out, /web: version 5, 5 desired, 2 containers/)
  t.match(out, new RegExp(`1\\s+h1\\s+${cid(1).slice(0, 12)}\\s+10\\.240\\.0\\.3\\s+running\\s+healthy\\s+\\d+s ago\\s+5\\n`))
})

t.test('apply --dry-run prints the diff and applies nothing', async (t) => {
  const file = join(dir, 'web.yaml')
  writeFileSync(file, 'name: web\nimage: web:3\nreplicas: 5\nport: 80\nnetwork: mv0\nenv: { SECRET: s3cret }\n')
  const out = await cli('apply', '--dry-run', '-f', file)
  t.match(out, /web: would change/)
  t.match(out, /- image: web:2\n\s+\+ image: web:3/)
  t.equal((await client.get<{ current: number }>('/v1/services/web/history')).current, 5, 'still version 5')
  writeFileSync(file, 'name: api\nimage: api:1\nreplicas: 1\nport: 80\nnetwork: mv0\n')
  t.match(await cli('apply', '--dry-run', '-f', file), /api: would be created\n.*\+ image: api:1/s)
  await t.rejects(anon.get('/v1/services/api'), { code: 'NOT_FOUND' }, 'nothing created')
})

t.test('activity feed: in the stream, blocking query wakes on the next event', async (t) => {
  const tail = await anon.get<{ events: Array<{ kind: string, service?: string, message: string }>, next: number }>('/v1/events?limit=50')
  t.ok(tail.events.some((e) => e.kind === 'spec' && e.message.includes('version 4')), 'spec versions')
  t.ok(tail.events.some((e) => e.kind === 'endpoint' && e.service === 'web'), 'endpoint changes')
  const started = Date.now()
  const parked = anon.nextEvents(tail.next, 20_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  await client.patch('/v1/services/web', { replicas: 4 })
  const page = await parked
  t.ok(Date.now() - started < 3000, `woke in ${Date.now() - started} ms`)
  t.ok(page.events.some((e) => e.message.includes('4 replicas')), 'the scale is the next event')
  t.ok(page.next > tail.next)
})

t.test('status --watch redraws on a change (blocking query, not polling)', async (t) => {
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [...cliArgs(), 'status', '--watch', '--api', api, '--token', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const until = async (re: RegExp): Promise<void> => {
    for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await until(/web\s+6\s+4/)
  t.match(out, /watching/)
  t.match(out, /web\s+6\s+4/, 'first frame: version 6, 4 desired')
  await client.patch('/v1/services/web', { replicas: 2 })
  await until(/web\s+7\s+2/)
  t.match(out, /web\s+7\s+2/, 'redrawn after the change')
  t.equal(out.match(/watching/g)?.length, 2, 'two frames: nothing redrawn without a change')
})
