// Real nats-server processes with JetStream on loopback: a single server or a
// three-node cluster. Each instance gets its own temp dir (stores and logs),
// registered in a state record so a crashed test cannot leave one behind.
import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  destroyDaemons, freePorts, isAlive, killAndWait, randomHex, removeRecord, signal, track, untrack, WaitAbort, waitFor, writeRecord,
  type NatsRecord,
} from '../../src/lab/index.js'

export interface NatsOptions {
  /** Extra nats-server arguments. */
  args?: string[]
  /** Startup timeout (default 30 s; 60 s for a cluster). */
  timeoutMs?: number
}

/** One nats-server process; keeps its ports and store across restarts. */
class NatsNode {
  pid = 0
  constructor(readonly name: string, readonly port: number, readonly monitorPort: number, readonly storeDir: string,
    readonly logFile: string, private readonly extra: string[]) {}

  get url(): string { return `nats://127.0.0.1:${this.port}` }

  async start(timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
    mkdirSync(this.storeDir, { recursive: true })
    const log = openSync(this.logFile, 'a')
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort),
      '-n', this.name, '-js', '-sd', this.storeDir, ...this.extra]
    const child = spawn('nats-server', args, { detached: true, stdio: ['ignore', log, log] })
    closeSync(log)
    child.unref()
    this.pid = child.pid!
    // Per start: the previous process's late 'exit' event must not count.
    let exited = ''
    child.once('exit', (code, sig) => { exited = `nats-server ${this.name} exited (${code ?? sig})` })
    await waitFor(async () => {
      if (exited) throw new WaitAbort(`${exited}\n${this.logTail()}`)
      return ready()
    }, { timeoutMs, intervalMs: 50, what: `nats-server ${this.name} on :${this.port}` })
  }

  async stop(): Promise<void> {
    await killAndWait([this.pid], 'SIGTERM', 10_000)
  }

  /**
   * SIGSTOP, returning once every thread is stopped: the signal is only sent
   * when kill() returns, and a thread of nats-server running on the other
   * core still answered a request published right after it.
   */
  async freeze(): Promise<void> {
    process.kill(this.pid, 'SIGSTOP')
    const stopped = (): boolean => readdirSync(`/proc/${this.pid}/task`)
      .every((tid) => / T /.test(readFileSync(`/proc/${this.pid}/task/${tid}/stat`, 'utf8').replace(/^.*\)/, '')))
    await waitFor(stopped, { timeoutMs: 5000, intervalMs: 1, what: `nats-server ${this.name} stopped` })
  }

  thaw(): void {
    process.kill(this.pid, 'SIGCONT')
  }

  async monitor(path: string): Promise<any> {
    const res = await fetch(`http://127.0.0.1:${this.monitorPort}${path}`, { signal: AbortSignal.timeout(2000) })
    return res.ok ? res.json() : undefined
  }

  async healthy(): Promise<boolean> {
    return (await this.monitor('/healthz').catch(() => undefined))?.status === 'ok'
  }

  async metaLeader(): Promise<string | undefined> {
    return (await this.monitor('/jsz').catch(() => undefined))?.meta_cluster?.leader || undefined
  }

  logTail(): string {
    try { return readFileSync(this.logFile, 'utf8').split('\n').slice(-10).join('\n') } catch { return '' }
  }
}

/** Shared plumbing for single servers and clusters: record, hooks, teardown. */
export class NatsGroup {
  readonly rec: NatsRecord
  private stopped = false
  constructor(readonly nodes: NatsNode[], dir: string, id: string) {
    this.rec = { kind: 'nats', id, ownerPid: process.pid, dir, createdAt: new Date().toISOString(), pids: [] }
    writeRecord(this.rec)
    track(`nats-${id}`, { kill: () => nodes.forEach((n) => signal(n.pid, 'SIGTERM')), teardown: () => this.stop() })
  }

  savePids(): void {
    this.rec.pids = this.nodes.map((n) => n.pid).filter(isAlive)
    writeRecord(this.rec)
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await destroyDaemons(this.rec)
    removeRecord('nats', this.rec.id)
    untrack(`nats-${this.rec.id}`)
  }
}

export async function newNatsGroup(names: string[], opts: NatsOptions, clusterArgs: (i: number, cports: number[]) => string[]) {
  const id = randomHex(3)
  const dir = `/tmp/driftgate-nats-${id}`
  const ports = await freePorts(names.length * 3)
  const cports = names.map((_, i) => ports[i * 3 + 2])
  const nodes = names.map((n, i) => new NatsNode(n, ports[i * 3], ports[i * 3 + 1], join(dir, n, 'store'), join(dir, `${n}.log`),
    [...clusterArgs(i, cports), ...(opts.args ?? [])]))
  const group = new NatsGroup(nodes, dir, id) // writes the record before the dir exists
  mkdirSync(dir)
  return group
}

export interface NatsServer {
  url: string
  port: number
  monitorPort: number
  storeDir: string
  logFile: string
  readonly pid: number
  stop(): Promise<void>
  /** Stops and starts again on the same port with the same store. */
  restart(): Promise<void>
  /** SIGSTOP, resolved once every thread of the server is stopped; thaw() sends SIGCONT. */
  freeze(): Promise<void>
  thaw(): void
}

export async function startNats(opts: NatsOptions = {}): Promise<NatsServer> {
  const group = await newNatsGroup(['n1'], opts, () => [])
  const node = group.nodes[0]
  const timeout = opts.timeoutMs ?? 30_000
  const start = async () => { await node.start(timeout, () => node.healthy()); group.savePids() }
  try { await start() } catch (err) { await group.stop(); throw err }
  return {
    url: node.url, port: node.port, monitorPort: node.monitorPort, storeDir: node.storeDir, logFile: node.logFile,
    get pid() { return node.pid },
    stop: () => group.stop(),
    restart: async () => { await node.stop(); await start() },
    freeze: async () => { await node.freeze() },
    thaw: () => { node.thaw() },
  }
}
