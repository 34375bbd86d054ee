// What a newcomer runs first, run as they would run it: the driftgate CLI as
// a separate process. `driftgate demo` then curl through nginx answers from
// three different containers, and `driftgate demo down` leaves nothing; and
// `driftgate up` against a testbed host's dockerd routes a labelled
// container, then SIGINT leaves nothing running.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'nats'
import { Testbed, cliArgs, freePort, waitFor, testbedLeftovers } from '../harness/index.js'
import { projectRoot } from '../../src/cli/version.js'
import { getVia, servingContainers } from '../../src/demo/index.js'
import { isAlive } from '../../src/up/procs.js'

const root = projectRoot()
// The built CLI when present and DG_FIRST_RUN_SRC is unset is faster; the source is always current.
const cliCmd = cliArgs({ source: process.env.DG_FIRST_RUN_SRC !== undefined })
const env = { ...process.env, NODE_OPTIONS: '', DRIFTGATE_API: undefined, DRIFTGATE_NATS: undefined }

interface Run { code: number | null, out: string }

function cli (args: string[], timeoutMs = 240_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...cliCmd, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { out += c.toString() })
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }) })
  })
}

/** Processes whose command line names `needle` (never this one). */
function procsNaming (needle: string): string[] {
  const out: string[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ')
      if (cmd.includes(needle)) out.push(`${p}: ${cmd.slice(0, 100)}`)
    } catch { /* gone */ }
  }
  return out
}

const mode = (p: string): number => statSync(p).mode & 0o777

/** The secrets in a data dir's secrets/ folder and token file: passwords and the API token. */
function secretsOf (dir: string): string[] {
  const sec = join(dir, 'secrets')
  return [...readdirSync(sec).filter((f) => f.endsWith('.pass')).map((f) => readFileSync(join(sec, f), 'utf8').trim()), readFileSync(join(dir, 'api-token'), 'utf8').trim()]
}

/** Every process's argv (what `ps -eo args` shows). */
function allArgs (): string {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ') } catch { return '' } }).join('\n')
}

/**
 * The embedded nats-server of up/demo: no anonymous client, and a role's user
 * can publish only what its permissions allow (here an agent for another host).
 */
async function checkNatsAuth (t: Test, port: number, dir: string, agent: string, otherHost: string, serverLog: string): Promise<void> {
  const url = `nats://127.0.0.1:${port}`
  const anon = await connect({ servers: url, timeout: 2000, maxReconnectAttempts: 0 }).then(async (nc) => { await nc.close(); return 'connected' }, (e: Error) => e.message)
  t.match(anon, /Authorization/i, 'nats-server refuses a client without credentials')
  const pass = readFileSync(join(dir, 'secrets', `nats-${agent}.pass`), 'utf8').trim()
  const nc = await connect({ servers: url, user: agent, pass, timeout: 2000, maxReconnectAttempts: 0 })
  const errors: string[] = []
  void (async () => { for await (const st of nc.status()) if (st.type === 'error') errors.push(String(st.data)) })()
  nc.publish(`driftgate.heartbeat.${otherHost}`, new Uint8Array())
  await nc.flush()
  await waitFor(() => errors.length > 0, { timeoutMs: 5000, what: 'permission error' }).catch(() => undefined)
  t.match(errors.join(' '), /PERMISSIONS_VIOLATION/, `${agent} is told it may not publish for ${otherHost}`)
  const denied = `Publish Violation - User "${agent}", Subject "driftgate.heartbeat.${otherHost}"`
  await waitFor(() => readFileSync(serverLog, 'utf8').includes(denied), { timeoutMs: 5000, what: 'violation logged' }).catch(() => undefined)
  t.ok(readFileSync(serverLog, 'utf8').includes(denied), `nats-server denied it: ${denied}`)
  await nc.close()
}

t.test('driftgate demo refuses a dir that exists or is a symlink, and says what to do', async (t) => {
  const existing = mkdtempSync('/tmp/dg-demo-exists-')
  const link = `${existing}-link`
  symlinkSync(existing, link)
  t.teardown(() => { rmSync(link, { force: true }); rmSync(existing, { recursive: true, force: true }) })
  const ports = ['--port', String(await freePort()), '--http-port', String(await freePort()), '--dns-port', String(await freePort()), '--nats-port', String(await freePort())]
  for (const dir of [existing, link]) {
    const r = await cli(['demo', '--dir', dir, ...ports])
    t.not(r.code, 0, `${dir}: refused`)
    t.match(r.out, dir.endsWith('-link') ? /symbolic link[\s\S]*remove it yourself, or pass another --dir/ : /already exists[\s\S]*driftgate demo down --dir/, 'says why and what to do')
    t.notMatch(r.out, /\[1\/7\]/, 'nothing was started')
  }
  t.same(readdirSync(existing), [], 'the existing dir is left as it was')
})

t.test('driftgate demo: 3 containers answer through nginx; demo down leaves nothing', async (t) => {
  const dir = `/tmp/driftgate-demo-test-${process.pid}`
  const ports = { nginx: await freePort(), http: await freePort(), dns: await freePort(), nats: await freePort() }
  t.teardown(async () => { if (existsSync(join(dir, 'demo.json'))) await cli(['demo', 'down', '--dir', dir]) })
  const t0 = Date.now()
  const up = await cli(['demo', '--dir', dir, '--port', String(ports.nginx), '--http-port', String(ports.http),
    '--dns-port', String(ports.dns), '--nats-port', String(ports.nats), '--timeout', '150'])
  t.comment(`driftgate demo: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  t.equal(up.code, 0, 'driftgate demo exits 0')
  t.match(up.out, /demo ready in/, 'reports ready')
  t.match(up.out, /curl -H 'Host: web' http:\/\/127\.0\.0\.1:\d+\//, 'prints what to try')
  if (up.code !== 0) { t.comment(up.out); return }
  const state = JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8')) as { testbed: { id: string }, pids: Record<string, number>, drivers: Record<string, string>, nginxPrefix?: string }

  const seen = await servingContainers(ports.nginx, 15)
  t.ok(seen.size >= 3, `nginx answers from ${seen.size} different containers (${[...seen].join(', ')})`)
  const one = await getVia(ports.nginx, 'web')
  t.match(JSON.parse(one.body), { host: String, ips: [/^10\.24\d\.\d+\.\d+$/] }, 'a page says which container served it')

  // Local secrets (issue 15, hole 7).
  t.equal(mode(dir), 0o700, 'the demo dir is 0700')
  t.equal(mode(join(dir, 'api-token')), 0o600, 'the token file is 0600')
  t.equal(mode(join(dir, 'secrets', 'nats-server.conf')), 0o600, 'the nats-server config is 0600')
  t.notMatch(readFileSync(join(dir, 'demo.json'), 'utf8'), readFileSync(join(dir, 'api-token'), 'utf8').trim(), 'demo.json holds no token')
  const args = allArgs()
  t.same(secretsOf(dir).filter((x) => args.includes(x)), [], 'no password or token in any process\'s arguments')
  await checkNatsAuth(t, ports.nats, dir, 'agent-h1', 'h2', join(dir, 'logs', 'nats-server.log'))
  t.same(readFileSync(join(dir, 'logs', 'nats-server.log'), 'utf8').split('\n').filter((l) => /Violation/.test(l) && !/agent-h1.*heartbeat\.h2/.test(l)), [],
    'the demo\'s own roles cause no permission violation')

  const t1 = Date.now()
  const down = await cli(['demo', 'down', '--dir', dir])
  t.comment(`driftgate demo down: ${((Date.now() - t1) / 1000).toFixed(1)} s`)
  t.equal(down.code, 0, 'demo down exits 0')
  t.same(await testbedLeftovers({ id: state.testbed.id }), [], 'no namespace, link, dockerd, mount, cgroup or record of the lab')
  t.same(procsNaming(dir), [], 'no process of the demo')
  t.same(Object.values(state.pids).filter(isAlive), [], 'every recorded pid is gone (a zombie counts as gone)')
  t.notOk(existsSync(dir), 'the demo dir is removed')
  t.same(Object.values(state.drivers).filter((d) => existsSync(`/run/docker/plugins/${d}.sock`)), [], 'no IPAM plugin socket')
  t.notOk(state.nginxPrefix !== undefined && existsSync(state.nginxPrefix), 'the nginx prefix is removed')
  const again = await cli(['demo', 'down', '--dir', dir])
  t.match(again.out, /nothing to do/, 'a second demo down is a no-op')
})

t.test('driftgate up on a testbed host: routes a labelled container; SIGINT leaves nothing', async (t) => {
  const tb = await Testbed.create({ hosts: 1, name: 'first-run-up' })
  t.teardown(async () => await tb.teardown())
  const data = mkdtempSync(join(tmpdir(), 'dg-up-'))
  t.teardown(() => rmSync(data, { recursive: true, force: true }))
  const driver = `dg-up-${tb.id}`
  const ports = { nginx: await freePort(), http: await freePort(), dns: await freePort(), nats: await freePort() }
  const child: ChildProcess = spawn(process.execPath, [...cliCmd, 'up', '--data', data, '--docker', tb.hosts[0].socketPath,
    '--network', 'mv0', '--ipam-driver-name', driver, '--port', String(ports.nginx), '--http-port', String(ports.http),
    '--dns-port', String(ports.dns), '--nats-port', String(ports.nats), '--host-id', 'h1'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  await waitFor(() => out.includes('Press Ctrl-C') || child.exitCode !== null, { timeoutMs: 90_000, what: 'driftgate up' })
  t.match(out, /driftgate is up/, `up prints its summary${child.exitCode !== null ? `: ${out}` : ''}`)
  t.match(out, new RegExp(`API\\s+http://127\\.0\\.0\\.1:${ports.http}`), 'says where the API is')
  const children = JSON.parse(readFileSync(join(data, 'up.json'), 'utf8')) as { nats: number, nginx: number }
  t.ok(existsSync(`/run/docker/plugins/${driver}.sock`), 'the IPAM driver socket is served')

  const id = await tb.run(1, { labels: { 'driftgate.service': 'web' } })
  const ip = await tb.ipOf(1, id)
  const reply = await waitFor(async () => { const r = await getVia(ports.nginx, 'web'); return r.status === 200 ? r : undefined }, { timeoutMs: 30_000, what: 'nginx routes web' })
  t.same(JSON.parse(reply.body).ips, [ip], `nginx answers from the container at ${ip}`)
  // Local secrets (issue 15, hole 7).
  t.equal(mode(join(data, 'secrets')), 0o700, 'the secrets folder is 0700')
  t.equal(mode(join(data, 'api-token')), 0o600, 'the token file is 0600')
  t.equal(mode(join(data, 'secrets', 'nats-server.conf')), 0o600, 'the nats-server config is 0600')
  const args = allArgs()
  t.same(secretsOf(data).filter((x) => args.includes(x)), [], 'no password or token in any process\'s arguments')
  await checkNatsAuth(t, ports.nats, data, 'agent-h1', 'h9', join(data, 'logs', 'nats-server.log'))
  t.same(readFileSync(join(data, 'logs', 'nats-server.log'), 'utf8').split('\n').filter((l) => /Violation/.test(l) && !/agent-h1.*heartbeat\.h9/.test(l)), [],
    'up\'s own roles cause no permission violation')
  const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text()
  t.match(metrics, /driftgate_agent_/, 'metrics include the agent')
  t.match(metrics, /driftgate_renderer_/, 'and the renderer')

  const t0 = Date.now()
  child.kill('SIGINT')
  t.equal(await exited, 0, 'exit code 0 after SIGINT')
  t.comment(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  t.match(out, /stopped; nothing left running/)
  const alive = [children.nats, children.nginx].filter(isAlive)
  t.same(alive, [], 'nats-server and nginx are gone')
  t.same(procsNaming(data), [], 'no process names the data dir')
  t.notOk(existsSync(`/run/docker/plugins/${driver}.sock`), 'no IPAM driver socket left')
  t.notOk(existsSync(join(data, 'up.json')), 'no record of running children')
})
