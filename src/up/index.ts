// `driftgate up`: every role on one Docker host in one process tree — an
// embedded nats-server (child), the registry, an agent for the local dockerd
// and a renderer (in this process), and an nginx it manages (child). Children
// are recorded in <data>/up.json, so a run that was SIGKILLed is cleaned up by
// the next one; close() stops everything in reverse order.
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { pino } from 'pino'
import { createLogger, createMetricsRegistry, type Logger } from '../core/index.js'
import { createAgent, resolveAgentConfig, type Agent } from '../agent/index.js'
import { createRegistry, resolveRegistryConfig, type DriftgateRegistry } from '../registry/index.js'
import { createRenderer, type Renderer } from '../renderer/index.js'
import type { UpOptions } from './config.js'
import { startNatsChild, type NatsChild } from './nats.js'
import { nginxPaths, startNginxChild, stopNginx, type NginxChild } from './nginx.js'
import { requireBinary, requireDocker, requireNats, requirePorts, requireRoot } from './preflight.js'
import { isAlive, stopPid } from './procs.js'
import { localNatsUsers, writeLocalNatsAuth, writeSecretFile, type NatsUser } from './secrets.js'
import { upSummary } from './summary.js'

export { upSchema, resolveUpOptions, type UpOptions, type UpFileConfig } from './config.js'
export { upSummary } from './summary.js'
// The local-process helpers `driftgate demo` shares with `up`.
export { requireBinary, requirePorts, requireRoot } from './preflight.js'
export { startNatsChild } from './nats.js'
export { startNginxChild, stopNginx } from './nginx.js'
export { isAlive, logTail, spawnLogged, stopPid, which } from './procs.js'
export { localNatsUsers, natsPassFilePath, writeLocalNatsAuth, writeSecretFile, type LocalNatsAuth } from './secrets.js'

export interface Up {
  options: UpOptions
  natsUrl: string
  apiToken: string
  tokenFile?: string
  logFile: string
  /** Child pids (nats-server when embedded, nginx master). */
  children: { nats?: number, nginx: number }
  summary: () => string
  close: () => Promise<void>
  /** Synchronous last resort from an 'exit' handler: SIGTERM to the children. */
  killChildren: () => void
}

const upFile = (data: string): string => join(data, 'up.json')

/** Stops children a previous, killed run left (recorded pids whose command line names our data dir). */
export async function cleanupPrevious (data: string): Promise<number[]> {
  let rec: { nats?: number, nginx?: number }
  try { rec = JSON.parse(readFileSync(upFile(data), 'utf8')) } catch { return [] }
  const stopped: number[] = []
  if (rec.nginx !== undefined && isAlive(rec.nginx)) { await stopNginx(rec.nginx, data); stopped.push(rec.nginx) }
  if (rec.nats !== undefined && await stopPid(rec.nats, { mustContain: data })) stopped.push(rec.nats)
  rmSync(upFile(data), { force: true })
  return stopped
}

async function preflight (o: UpOptions): Promise<UpOptions> {
  if (o.agent && o.ipamDriverName !== undefined) requireRoot('driftgate up', 'serves the Docker IPAM driver socket in /run/docker/plugins', 'pass --no-ipam-driver')
  const nginxBin = o.nginxBin ?? requireBinary('nginx')
  const natsBin = o.nats === undefined ? (o.natsBin ?? requireBinary('nats-server')) : undefined
  await requirePorts([
    { port: o.port, flag: '--port', what: 'nginx' },
    { port: o.httpPort, flag: '--http-port', what: 'API' },
    { port: o.dnsPort, flag: '--dns-port', what: 'DNS' },
    ...(o.nats === undefined ? [{ port: o.natsPort, flag: '--nats-port', what: 'NATS' }] : []),
  ], o.bind)
  if (o.agent) await requireDocker(o.docker)
  if (o.nats !== undefined) await requireNats(o.nats)
  return { ...o, nginxBin, natsBin }
}

async function freeLoopbackPort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
    })
  })
}

function apiToken (o: UpOptions): { token: string, file?: string } {
  if (o.apiToken !== undefined) return { token: o.apiToken }
  const file = join(o.data, 'api-token')
  if (existsSync(file)) {
    chmodSync(file, 0o600) // one written by an older driftgate may be world-readable
    return { token: readFileSync(file, 'utf8').trim(), file }
  }
  const token = randomBytes(18).toString('base64url')
  writeSecretFile(file, token + '\n')
  return { token, file }
}

const rendererCred = (c: { natsUser?: string, natsPass?: string }): { user?: string, pass?: string } =>
  c.natsUser === undefined ? {} : { user: c.natsUser, pass: c.natsPass }

export interface StartUpDeps {
  /** Progress lines for the terminal. */
  say?: (line: string) => void
  log?: Logger
}

export async function startUp (input: UpOptions, deps: StartUpDeps = {}): Promise<Up> {
  const say = deps.say ?? (() => {})
  mkdirSync(join(input.data, 'logs'), { recursive: true })
  const previous = await cleanupPrevious(input.data)
  if (previous.length > 0) say(`stopped leftovers of an earlier run: pids ${previous.join(', ')}`)
  const o = await preflight(input)
  const logFile = join(o.data, 'logs', 'driftgate.log')
  const dest = pino.destination({ dest: logFile, append: true, sync: true })
  const log = deps.log ?? createLogger({ role: 'up', level: o.logLevel, destination: dest })
  const metrics = createMetricsRegistry('up', { defaults: true })
  const { token, file: tokenFile } = apiToken(o)
  const children: { nats?: number, nginx: number } = { nginx: 0 }
  const closers: Array<{ name: string, close: () => Promise<void> }> = []
  const record = (): void => { writeFileSync(upFile(o.data), JSON.stringify({ ...children, pid: process.pid }) + '\n') }
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      for (const c of closers.reverse()) {
        say(`stopping ${c.name}`)
        await c.close().catch((err: Error) => { log.warn({ component: c.name, err: err.message }, 'close failed') })
      }
      rmSync(upFile(o.data), { force: true })
      dest.flushSync()
    })()
    await closing
  }

  // The embedded nats-server gets one user per role; an external one (--nats) is the operator's to secure.
  const auth = o.nats === undefined ? writeLocalNatsAuth(join(o.data, 'secrets'), localNatsUsers(o.agent ? [o.hostId] : [], o.hostId)) : undefined
  const cred = (user: string): { natsUser?: string, natsPass?: string } => {
    const u: NatsUser | undefined = auth?.users[user]
    return u === undefined ? {} : { natsUser: u.user, natsPass: u.pass }
  }
  try {
    let natsUrl = o.nats ?? ''
    if (o.nats === undefined) {
      say(`starting nats-server -js on ${o.bind}:${o.natsPort} (a user per role: ${join(o.data, 'secrets')})`)
      const probe = auth?.users.registry
      const nats: NatsChild = await startNatsChild({
        bin: o.natsBin as string, host: o.bind, port: o.natsPort, storeDir: join(o.data, 'nats'), logFile: join(o.data, 'logs', 'nats-server.log'), detached: true,
        confFile: auth?.confFile, probe: probe && { user: probe.user, pass: probe.pass },
      })
      children.nats = nats.pid
      record()
      closers.push({ name: 'nats-server', close: nats.stop })
      natsUrl = nats.url
    }
    say(`starting registry (API ${o.bind}:${o.httpPort}, DNS ${o.bind}:${o.dnsPort})`)
    const registry: DriftgateRegistry = createRegistry(resolveRegistryConfig({
      nats: natsUrl, ...cred('registry'), httpPort: o.httpPort, dnsPort: o.dnsPort, httpHost: o.bind, dnsHost: o.bind, apiToken: token,
      hostGrace: o.hostGrace, logLevel: o.logLevel,
    }), { log, metrics })
    closers.push({ name: 'registry', close: registry.close })
    await registry.start()
    if (o.agent) {
      say(`starting agent ${o.hostId} on ${o.docker}${o.ipamDriverName !== undefined ? ` (IPAM driver ${o.ipamDriverName})` : ''}`)
      const agent: Agent = createAgent(resolveAgentConfig({
        hostId: o.hostId, docker: o.docker, nats: natsUrl, ...cred(`agent-${o.hostId}`), network: o.network, logLevel: o.logLevel,
        ipamDriver: o.ipamDriverName !== undefined, ...(o.ipamDriverName !== undefined ? { ipamDriverName: o.ipamDriverName } : {}),
      }), { log, metrics })
      closers.push({ name: 'agent', close: agent.close })
      await agent.start()
    }
    const prefix = join(o.data, 'nginx')
    say(`starting nginx on ${o.bind}:${o.port}`)
    const nginx: NginxChild = await startNginxChild(o.nginxBin as string, { prefix, host: o.bind, port: o.port }, { detached: true })
    children.nginx = nginx.pid
    record()
    closers.push({ name: 'nginx', close: nginx.stop })
    say('starting renderer')
    const renderer: Renderer = createRenderer({
      id: o.hostId, prefix: 'driftgate', out: nginx.out, nginxConf: nginx.conf, nginxPrefix: prefix + '/', nginxBin: o.nginxBin as string,
      statusPort: await freeLoopbackPort(), mode: 'lua', hostPrefix: true, httpListen: `${o.bind}:${o.port}`, minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 10_000, announceIntervalMs: 5000,
    }, { natsOptions: { servers: natsUrl, name: `driftgate-renderer-${o.hostId}`, ...rendererCred(cred(`renderer-${o.hostId}`)) }, log, registry: metrics })
    closers.push({ name: 'renderer', close: async () => await renderer.close() })
    await renderer.start()
  } catch (err) {
    await close()
    throw err
  }
  const up: Up = {
    options: o,
    natsUrl: o.nats ?? `nats://${o.bind}:${o.natsPort}`,
    apiToken: token,
    tokenFile,
    logFile,
    children,
    summary: () => upSummary(up),
    close,
    killChildren: () => {
      for (const pid of [children.nginx, children.nats]) if (pid !== undefined && pid > 0) try { process.kill(pid, 'SIGTERM') } catch { /* gone */ }
    },
  }
  return up
}

export { nginxPaths }
