// `driftgate demo`: a 3-host lab on this machine with the whole control plane
// and a `web` service of 3 replicas behind nginx; `demo down` removes it all.
// Every step records what it made in <dir>/demo.json first (state.ts).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { PreflightError } from '../core/index.js'
import { ApiClient, applyFiles } from '../client/index.js'
import { logFile, spawnRole, waitRole } from './control.js'
import { attachLab, createLab, destroyLab, poolRange } from './lab.js'
import { freeLoopbackPort, servingContainers } from './probe.js'
import { createDemoDir, HOSTS, readState, secretsDir, tokenPath, webSpec, writeState, type DemoPorts, type DemoState } from './state.js'
import { requireBinary, requirePorts, requireRoot, startNatsChild, nginxPaths, startNginxChild, stopNginx, isAlive, stopPid, localNatsUsers, natsPassFilePath, writeLocalNatsAuth, writeSecretFile, type LocalNatsAuth } from '../up/index.js'

export { DEFAULT_DEMO_DIR, readState, type DemoState } from './state.js'
export { getVia, servingContainers } from './probe.js'

export interface DemoOptions { dir: string, ports: Omit<DemoPorts, 'status'>, say: (line: string) => void, timeoutMs?: number }

const PLUGIN_DIR = '/run/docker/plugins'

function preflight (): { nginx: string, nats: string } {
  requireRoot('driftgate demo', 'creates network namespaces, a bridge and one dockerd per lab host')
  for (const [bin, pkg] of [['dockerd', 'docker.io'], ['docker', 'docker.io'], ['ip', 'iproute2'], ['nsenter', 'util-linux'], ['busybox', 'busybox-static']]) requireBinary(bin, pkg)
  if (!existsSync('/bin/busybox')) throw new PreflightError('/bin/busybox is missing (Debian package busybox-static): bash scripts/install-deps.sh')
  return { nginx: requireBinary('nginx'), nats: requireBinary('nats-server') }
}

const elapsed = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`

export async function runDemo (o: DemoOptions): Promise<DemoState> {
  const bins = preflight()
  const prior = readState(o.dir)
  if (prior !== undefined && Object.values(prior.pids).some((p) => isAlive(p))) {
    throw new PreflightError(`a demo is already running (state in ${o.dir}): remove it first with \`driftgate demo down${o.dir === '/tmp/driftgate-demo' ? '' : ` --dir ${o.dir}`}\``)
  }
  await requirePorts([
    { port: o.ports.nginx, flag: '--port', what: 'nginx' }, { port: o.ports.http, flag: '--http-port', what: 'API' },
    { port: o.ports.dns, flag: '--dns-port', what: 'DNS' }, { port: o.ports.nats, flag: '--nats-port', what: 'NATS' },
  ])
  createDemoDir(o.dir) // refuses an existing dir or symlink, with what to do
  const s: DemoState = {
    v: 1, dir: o.dir, createdAt: new Date().toISOString(), ports: { ...o.ports, status: await freeLoopbackPort() },
    pids: {}, drivers: {}, stopped: [],
  }
  mkdirSync(join(o.dir, 'logs'), { recursive: true })
  const token = randomBytes(18).toString('base64url')
  writeSecretFile(tokenPath(o.dir), token + '\n')
  writeState(s)
  try {
    await build(s, o, bins, token)
  } catch (err) {
    o.say(`failed: ${(err as Error).message.split('\n')[0]}`)
    o.say(`logs are in ${join(o.dir, 'logs')}; remove the half-built lab with: driftgate demo down`)
    throw err
  }
  return s
}

async function build (s: DemoState, o: DemoOptions, bins: { nginx: string, nats: string }, token: string): Promise<void> {
  const t0 = Date.now()
  const step = (n: number, what: string): void => o.say(`[${n}/7] ${what} (${elapsed(t0)})`)
  const url = `nats://127.0.0.1:${s.ports.nats}`
  step(1, 'creating 3 Docker hosts: a network namespace and a dockerd each, on a bridge (takes 10-60 s)')
  const descriptor = join(s.dir, 'testbed.json')
  const tb = await createLab(descriptor, HOSTS.length)
  s.testbed = { id: tb.id, file: descriptor, subnet: tb.subnet, gateway: tb.gateway }
  writeState(s)
  o.say(`      lab ${tb.id}: LAN ${tb.subnet} on bridge ${tb.bridge}, hosts ${tb.hosts.map((h) => `${h.name}=${h.address}`).join(' ')}`)

  step(2, `starting nats-server -js on ${url}, a user per role (passwords in ${secretsDir(s.dir)})`)
  const auth = writeLocalNatsAuth(secretsDir(s.dir), localNatsUsers([...HOSTS], RENDERER_ID))
  const probe = auth.users.registry
  const nats = await startNatsChild({
    bin: bins.nats, host: '127.0.0.1', port: s.ports.nats, storeDir: join(s.dir, 'nats'), logFile: logFile(s.dir, 'nats-server'), detached: true,
    confFile: auth.confFile, probe: { user: probe.user, pass: probe.pass },
  })
  s.pids.nats = nats.pid
  writeState(s)

  step(3, `starting the registry (API http://127.0.0.1:${s.ports.http}, DNS 127.0.0.1:${s.ports.dns})`)
  s.pids.registry = spawnRole(s.dir, 'registry', 'registry', {
    nats: url, ...natsLogin(auth, 'registry'), httpPort: s.ports.http, dnsPort: s.ports.dns, httpHost: '127.0.0.1', dnsHost: '127.0.0.1',
    apiTokenFile: tokenPath(s.dir), hostGrace: '10s',
  })
  writeState(s)
  const api = new ApiClient({ api: `http://127.0.0.1:${s.ports.http}`, token, timeoutMs: 3000 })
  await waitRole('the registry', s.pids.registry, logFile(s.dir, 'registry'), async () => { await api.get('/v1/services'); return true })
  await api.put(`/v1/ipam/pools/demo`, { subnet: tb.subnet, range: poolRange(tb.subnet) })

  step(4, 'starting one agent per host, each serving its own IPAM driver; creating MacVLAN network mv0 on each')
  for (const h of tb.hosts) {
    s.drivers[h.name] = `dgdemo-${tb.id}-${h.name}`
    startAgent(s, h.name, h.socketPath)
  }
  writeState(s)
  for (const h of tb.hosts) {
    const sock = join(PLUGIN_DIR, `${s.drivers[h.name]}.sock`)
    await waitRole(`agent ${h.name}`, s.pids[`agent-${h.name}`], logFile(s.dir, `agent-${h.name}`), async () => existsSync(sock))
    await tb.docker(h)('network', 'create', '-d', 'macvlan', '--ipam-driver', s.drivers[h.name], '--subnet', tb.subnet, '-o', 'parent=eth0', 'mv0')
  }

  step(5, `starting nginx on 127.0.0.1:${s.ports.nginx} and the renderer`)
  // Outside the 0700 dir: nginx's workers run as nobody and keep temp files in the prefix.
  const prefix = mkdtempSync('/tmp/driftgate-demo-nginx-')
  chmodSync(prefix, 0o755)
  s.nginxPrefix = prefix
  writeState(s)
  const nginx = await startNginxChild(bins.nginx, { prefix, host: '127.0.0.1', port: s.ports.nginx }, { detached: true })
  s.pids.nginx = nginx.pid
  writeState(s)
  s.pids.renderer = spawnRole(s.dir, 'renderer', 'renderer', {
    nats: url, ...natsLogin(auth, `renderer-${RENDERER_ID}`),
    out: nginx.out, nginxConf: nginx.conf, nginxPrefix: prefix + '/', nginxBin: bins.nginx, statusPort: s.ports.status, mode: 'lua',
    // the demo routes by Host: web (the host-prefix convenience, off by default for new installs)
    hostPrefix: true, httpListen: `127.0.0.1:${s.ports.nginx}`,
  }, ['--id', RENDERER_ID]) // not in the YAML: the CLI's host-name default for --id overrides a config file's id
  writeState(s)

  step(6, 'deploying service web: 3 replicas of driftgate-test:latest')
  await waitRole('3 hosts to report', s.pids.registry, logFile(s.dir, 'registry'), async () =>
    (await api.get<{ hosts: Array<{ status: string }> }>('/v1/hosts')).hosts.filter((h) => h.status === 'up').length === HOSTS.length)
  const specFile = join(s.dir, 'web.yaml')
  writeFileSync(specFile, webSpec(3))
  await applyFiles(api, [specFile], () => {})

  step(7, `waiting until nginx serves web from 3 different containers`)
  let last = 0
  await waitRole('3 replicas behind nginx', s.pids.renderer, logFile(s.dir, 'renderer'), async () => {
    const n = (await servingContainers(s.ports.nginx, 9)).size
    if (n !== last) { o.say(`      nginx answers from ${n} container${n === 1 ? '' : 's'} (${elapsed(t0)})`); last = n }
    return n >= 3
  }, o.timeoutMs ?? 180_000)
  o.say(`demo ready in ${elapsed(t0)}`)
}

const RENDERER_ID = 'demo'

/** A role's NATS login for its YAML config: the user, and the file holding its password (never the password). */
function natsLogin (auth: LocalNatsAuth, user: string): { natsUser: string, natsPassFile: string } {
  return { natsUser: user, natsPassFile: auth.users[user].passFile }
}

/** (Re)starts the agent of one lab host as a detached process. */
function startAgent (s: DemoState, host: string, socket: string): void {
  const user = `agent-${host}`
  s.pids[user] = spawnRole(s.dir, user, 'agent', {
    hostId: host, docker: socket, nats: `nats://127.0.0.1:${s.ports.nats}`, natsUser: user, natsPassFile: natsPassFilePath(secretsDir(s.dir), user),
    network: 'mv0', ipamDriverName: s.drivers[host], heartbeatInterval: '1s',
  })
}

/** What to try, printed at the end of `driftgate demo`. */
export function tryThis (s: DemoState, cli: string): string {
  const api = s.ports.http === 7070 ? '' : ` --api http://127.0.0.1:${s.ports.http}`
  return `
The demo runs in the background (state and logs in ${s.dir}). Try:

  curl -H 'Host: web' http://127.0.0.1:${s.ports.nginx}/        # run it a few times: another container each time
  export DRIFTGATE_TOKEN=$(cat ${join(s.dir, 'api-token')})
  ${cli} status${api}                          # services, replicas per host, hosts
  ${cli} scale web=6 --wait${api}              # 2 replicas per host
  ${cli} demo stop-host h2${s.dir === '/tmp/driftgate-demo' ? '' : ` --dir ${s.dir}`}                 # its replicas move to h1/h3 after the 10 s grace
  ${cli} demo start-host h2${s.dir === '/tmp/driftgate-demo' ? '' : ` --dir ${s.dir}`}
  dig @127.0.0.1 -p ${s.ports.dns} web.service.driftgate SRV +short
  curl -s http://127.0.0.1:${s.ports.http}/v1/services/web/endpoints

The console: http://127.0.0.1:${s.ports.http}/ui/   (writes ask once for the token in ${join(s.dir, 'api-token')})

When done: ${cli} demo down${s.dir === '/tmp/driftgate-demo' ? '' : ` --dir ${s.dir}`}   (removes every process, namespace, link and file of the demo)
`
}

export async function stopHost (dir: string, host: string, say: (l: string) => void): Promise<void> {
  const s = mustState(dir)
  const tb = await attachLab(s.testbed?.file ?? '')
  tb.host(host) // throws for an unknown host
  say(`stopping dockerd of ${host} (its containers stop), then its agent`)
  await tb.stopDockerd(host)
  await stopPid(s.pids[`agent-${host}`], { mustContain: dir })
  s.stopped = [...new Set([...s.stopped, host])]
  writeState(s)
  say(`${host} is down: after the 10 s grace the registry marks it down and placement moves its replicas. Watch: driftgate status`)
}

export async function startHost (dir: string, host: string, say: (l: string) => void): Promise<void> {
  const s = mustState(dir)
  const tb = await attachLab(s.testbed?.file ?? '')
  const h = tb.host(host)
  if (isAlive(s.pids[`agent-${host}`])) throw new PreflightError(`${host} is running (its agent is pid ${s.pids[`agent-${host}`]})`)
  // The agent first: dockerd restores its containers through the agent's IPAM driver.
  startAgent(s, host, h.socketPath)
  say(`starting dockerd of ${host} and its agent`)
  await tb.startDockerd(host)
  s.stopped = s.stopped.filter((x) => x !== host)
  writeState(s)
  say(`${host} is back; placement gives it new replicas only when needed (no rebalancing)`)
}

function mustState (dir: string): DemoState {
  const s = readState(dir)
  if (s === undefined) throw new PreflightError(`no demo in ${dir}: start one with \`driftgate demo\``)
  return s
}

/**
 * Removes every trace: the lab first (its dockerds release addresses through
 * the agents), then the renderer, agents, registry, nginx and nats-server by
 * pid, the IPAM plugin sockets, then the dir.
 */
export async function demoDown (dir: string, say: (l: string) => void): Promise<{ removed: string[] }> {
  const s = readState(dir)
  const removed: string[] = []
  if (s === undefined) {
    if (existsSync(dir)) throw new PreflightError(`${dir} holds no demo.json: not removing it; delete it yourself if it is a demo's`)
    say(`no demo in ${dir}: nothing to do`)
    return { removed }
  }
  if (s.testbed !== undefined) {
    say(`removing lab ${s.testbed.id}: dockerds, namespaces, links`)
    await destroyLab(s.testbed.file, s.testbed.id)
    removed.push(`lab ${s.testbed.id}`)
  }
  const order = ['renderer', ...Object.keys(s.pids).filter((k) => k.startsWith('agent-')), 'registry']
  for (const name of order) {
    if (await stopPid(s.pids[name], { mustContain: dir, graceMs: 10_000 })) { say(`stopped ${name} (pid ${s.pids[name]})`); removed.push(name) }
  }
  if (s.pids.nginx !== undefined && isAlive(s.pids.nginx)) { await stopNginx(s.pids.nginx, s.nginxPrefix ?? dir); say(`stopped nginx (pid ${s.pids.nginx})`); removed.push('nginx') }
  if (await stopPid(s.pids.nats, { mustContain: dir })) { say(`stopped nats-server (pid ${s.pids.nats})`); removed.push('nats-server') }
  for (const d of Object.values(s.drivers)) {
    const sock = join(PLUGIN_DIR, `${d}.sock`)
    if (existsSync(sock)) { rmSync(sock, { force: true }); removed.push(sock) }
  }
  if (s.nginxPrefix !== undefined && /^\/tmp\/driftgate-demo-nginx-[A-Za-z0-9]+$/.test(s.nginxPrefix)) {
    rmSync(s.nginxPrefix, { recursive: true, force: true })
    removed.push(s.nginxPrefix)
  }
  rmSync(dir, { recursive: true, force: true })
  say(`removed ${dir}`)
  return { removed }
}

export { nginxPaths }
