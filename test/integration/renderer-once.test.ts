// consul-template habits of `driftgate renderer` as a real process against
// real nats-server and nginx: --dry-run prints the diff and changes no file
// (contents, mtimes, listing checked), --once applies and exits 0 or 1 with
// the reason, --reload-cmd reloads an nginx the renderer cannot signal.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'nats'
import { cliArgs, startNats, startNginx, freePort } from '../harness/index.js'
import { ensureBuckets, encodeJson } from '../../src/bus/index.js'
import { fetchGeneration } from '../../src/renderer/index.js'
import { ep, svc } from '../unit/renderer-fixtures.js'
import { exampleHttpBody } from './renderer-fixtures.js'

const root = mkdtempSync(join(tmpdir(), 'dg-once-'))
const out = join(root, 'out')
const nats = await startNats()
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody() })
const statusPort = await freePort()
const nc = await connect({ servers: nats.url })
const kv = await ensureBuckets(nc)
t.teardown(async () => {
  await nc.close()
  await nginx.stop()
  await nats.stop()
  rmSync(root, { recursive: true, force: true })
})

interface Run { code: number, stdout: string, stderr: string }
const renderer = (...args: string[]): Promise<Run> => new Promise((resolve) => {
  execFile(process.execPath, [...cliArgs(), 'renderer', '--nats', nats.url, '--out', out, '--nginx-conf', nginx.confPath,
    '--nginx-prefix', `${nginx.prefix}/`, '--status-port', String(statusPort), '--mode', 'file', '--id', 'once1', ...args],
  { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err == null ? 0 : Number((err as { code?: number }).code ?? -1), stdout, stderr }))
})
/** Every file under --out with its content and mtime. */
const snapshot = (): string[] => !existsSync(out) ? [] : readdirSync(out, { recursive: true }).map(String).sort().map((f) => {
  const p = join(out, f)
  const s = statSync(p)
  return `${f} ${s.mtimeMs} ${s.isFile() ? readFileSync(p, 'utf8') : 'dir'}`
})

await kv.services.put('web', encodeJson(svc('web')[1]))
await kv.endpoints.put(...(([k, v]) => [k, encodeJson(v)] as const)(ep('web', 1)))

t.test('--dry-run with nothing rendered yet: the diff of every file, and --out is not even created', async (t) => {
  const r = await renderer('--dry-run')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, `--- /dev/null\n+++ b/${out.slice(1)}/web.conf`)
  t.match(r.stdout, '+upstream web {')
  t.notMatch(r.stdout, '"level"', 'logs go to stderr, not into the diff')
  t.notOk(existsSync(out), 'nothing created')
})

t.test('--once renders, validates, reloads (pid file found from nginx -T), confirms and exits 0', async (t) => {
  const r = await renderer('--once')
  t.equal(r.code, 0, r.stderr)
  t.ok(existsSync(join(out, 'web.conf')))
  const gen = await fetchGeneration(statusPort)
  t.ok(gen != null && gen > 0, `nginx serves generation ${gen}`)
})

t.test('--dry-run after a change: prints it, touches nothing', async (t) => {
  await kv.services.put('api', encodeJson(svc('api')[1]))
  await kv.endpoints.put(...(([k, v]) => [k, encodeJson(v)] as const)(ep('web', 2)))
  const before = snapshot()
  const gen = await fetchGeneration(statusPort)
  const r = await renderer('--dry-run')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, `+++ b/${out.slice(1)}/api.conf`)
  t.match(r.stdout, /@@ .* @@\n(.*\n)*\+ {4}server 10\.240\.1\.2:80/)
  t.notMatch(r.stdout, '_driftgate.conf', 'the status file is left out')
  t.same(snapshot(), before, 'no file changed (contents and mtimes)')
  t.equal(await fetchGeneration(statusPort), gen, 'no reload')
})

t.test('--reload-cmd reloads an nginx the renderer cannot signal, confirmed by the status listener', async (t) => {
  const gen = (await fetchGeneration(statusPort)) ?? 0
  // without the command, a pid file that does not exist means "not running"
  const noSignal = await renderer('--once', '--nginx-pid', join(root, 'nowhere.pid'))
  t.equal(noSignal.code, 1)
  t.match(noSignal.stderr, /once failed: .*nginx is not running/)
  const r = await renderer('--once', '--nginx-pid', join(root, 'nowhere.pid'), '--reload-cmd', `/bin/kill -s HUP ${nginx.pid()}`)
  t.equal(r.code, 0, r.stderr)
  // The renderer confirmed the new generation; an old worker that has not
  // yet handled its QUIT may still accept a connection or two
  await nginx.settled()
  const now = await fetchGeneration(statusPort)
  t.ok(now != null && now > gen, `generation ${gen} → ${now}`)
  t.ok(existsSync(join(out, 'api.conf')))
})

t.test('--once exits 1 with the reason when the reload command fails', async (t) => {
  await kv.services.put('more', encodeJson(svc('more')[1]))
  const r = await renderer('--once', '--reload-cmd', "/bin/sh -c 'echo cannot reach nginx >&2; exit 3'")
  t.equal(r.code, 1)
  t.match(r.stderr, /once failed: reload command .*exit 3.*cannot reach nginx/)
})
