// The system under test of bench/scale: a 3-node JetStream cluster, registry
// instances and lua-mode renderers as child processes (the CLI from dist/,
// so RSS and CPU are each process's own), each renderer with its own nginx.
// A child whose parent dies sees its stdin close and stops (SIGTERM itself).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { cliArgs, startNats, startNatsCluster, startNginx, freePort, waitFor, type NatsCluster, type NginxServer } from '../../test/harness/index.js'
import { exampleHttpBody } from '../../test/integration/renderer-fixtures.js'

const CLI = cliArgs()
const WATCH_PARENT = '--import=data:text/javascript,process.stdin.on("end",()=>process.kill(process.pid,"SIGTERM"));process.stdin.resume()'

/** CPU seconds (utime + stime) and resident memory of a process, from /proc. */
export function procStats (pid: number): { cpu: number, rssMb: number, peakMb: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
    return { cpu: (Number(f[11]) + Number(f[12])) / 100, rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 }
  } catch { return { cpu: 0, rssMb: 0, peakMb: 0 } }
}

/**
 * One driftgate process. Like a service manager (systemd Restart=always), a
 * process that exits on its own is started again after a second: counted in
 * `restarts` and printed, since a real deployment would see it too.
 */
export class Child {
  proc?: ChildProcess
  exited = false
  restarts = 0
  /** The registry's HTTP port (its /metrics), when it is one. */
  httpPort?: number
  private stopping = false
  constructor (readonly name: string, private readonly args: string[], private readonly logFile: string,
    private readonly env?: Record<string, string>) {}

  start (): void {
    const out = openSync(this.logFile, 'a')
    this.exited = false
    this.stopping = false
    // env DG_CLI: another build of the CLI (a copy of dist/ from before a change, for side-by-side runs)
    const dg = this.env?.DG_CLI ?? process.env.DG_CLI
    const cli = dg != null ? [dg] : CLI
    const proc = this.proc = spawn(process.execPath, [WATCH_PARENT, ...cli, ...this.args], { stdio: ['pipe', out, out], env: { ...process.env, ...this.env } })
    proc.on('exit', () => {
      this.exited = true
      if (this.stopping || this.proc !== proc) return
      this.restarts++
      setTimeout(() => { if (!this.stopping && this.proc === proc) this.start() }, 1000)
    })
  }

  get pid (): number { return this.proc?.pid ?? 0 }

  /** SIGKILL (a crash), or SIGTERM and wait (a clean stop). */
  async stop (sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopping = true
    if (this.proc == null || this.exited) return
    const gone = new Promise((resolve) => this.proc?.once('exit', resolve))
    this.proc.kill(sig)
    const t = setTimeout(() => this.proc?.kill('SIGKILL'), 10_000)
    await gone
    clearTimeout(t)
  }
}

export interface Renderer { child: Child, nginx: NginxServer, statusPort: number, id: string }

export interface System {
  cluster: NatsCluster
  registries: Child[]
  renderers: Renderer[]
  logDir: string
  /** A connection of the harness's own (checks and watches). */
  nc: NatsConnection
  stop: () => Promise<void>
}

/** Server URLs starting from node i: instances spread over the nodes. */
const rotated = (urls: string[], i: number): string => [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)].join(',')

/**
 * `nodes`: 3 (a cluster, R3) or 1 (one nats-server, R1; bench/memory.ts).
 * `env`: extra environment of every driftgate process (e.g. DG_CLI, NODE_OPTIONS).
 */
export async function startSystem (o: { registries: number, renderers: number, logLevel?: string, nodes?: 1 | 3, env?: Record<string, string> }): Promise<System> {
  const logDir = mkdtempSync(join(tmpdir(), 'dg-scale-'))
  const cluster = o.nodes === 1 ? await singleNode() : await startNatsCluster(3)
  const replicas = o.nodes === 1 ? '1' : '3'
  const registries: Child[] = []
  const renderers: Renderer[] = []
  let nc: NatsConnection | undefined
  const stop = async (): Promise<void> => {
    await Promise.all(renderers.map(async (r) => { await r.child.stop(); await r.nginx.stop() }))
    await Promise.all(registries.map(async (r) => { await r.stop() }))
    await nc?.close()
    await cluster.stop()
  }
  try {
    nc = await connect({ servers: cluster.urls, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
    const level = o.logLevel ?? 'warn'
    for (let i = 0; i < o.registries; i++) {
      const [http, dns] = [await freePort(), await freePort()]
      const c = new Child(`registry${i + 1}`, ['registry', '--nats', rotated(cluster.urls, i), '--replicas', replicas,
        '--http-port', String(http), '--dns-port', String(dns), '--log-level', level], join(logDir, `registry${i + 1}.log`), o.env)
      c.httpPort = http
      c.start()
      registries.push(c)
      // the first creates the stream and buckets; the others find them
      if (i === 0) await waitFor(async () => await streamReady(nc as NatsConnection), { what: 'registry1 ready', timeoutMs: 60_000, intervalMs: 200 })
    }
    await Promise.all(Array.from({ length: o.renderers }, async (_, i) => {
      const out = mkdtempSync(join(tmpdir(), `dg-scale-r${i + 1}-`))
      const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: true })
      const statusPort = await freePort()
      const id = `r${i + 1}`
      const child = new Child(`renderer${i + 1}`, ['renderer', '--out', out, '--nginx-conf', nginx.confPath, '--nginx-prefix', `${nginx.prefix}/`,
        '--nginx-bin', '/usr/sbin/nginx', '--id', id, '--status-port', String(statusPort), '--mode', 'lua',
        '--nats', rotated(cluster.urls, i + 1), '--log-level', level], join(logDir, `renderer${i + 1}.log`), o.env)
      child.start()
      renderers.push({ child, nginx, statusPort, id })
    }))
  } catch (err) {
    await stop()
    throw err
  }
  return { cluster, registries, renderers, logDir, nc, stop }
}

/** One nats-server in the cluster's shape. */
async function singleNode (): Promise<NatsCluster> {
  const s = await startNats()
  const node = { name: 'n1', url: s.url, port: s.port, monitorPort: s.monitorPort, storeDir: s.storeDir, get pid () { return s.pid }, stop: s.stop, restart: s.restart }
  return { urls: [s.url], nodes: [node], metaLeader: async () => 'n1', stop: s.stop }
}

async function streamReady (nc: NatsConnection): Promise<boolean> {
  try {
    const jsm = await nc.jetstreamManager()
    await jsm.consumers.info('DRIFTGATE_EVENTS', 'registry')
    await jsm.streams.info('KV_driftgate_endpoints')
    return true
  } catch { return false }
}
