// The nginx controller: `nginx -t` against the main config, graceful reload by
// SIGHUP to the master, and confirmation through the generated status server
// that the new configuration is really the one serving.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { NginxNotRunningError, NginxRejectedError, NginxReloadError, NginxTestError } from '../core/index.js'
import { ForkServer } from './forkserver.js'
import { buildDefaults, pidFilePath, pidFromFiles, splitDump } from './nginx-pid.js'

export interface NginxOptions {
  bin: string
  /** Main nginx.conf (the one that includes <out>/*.conf). */
  conf: string
  /** nginx -p prefix, when the main config uses relative paths. */
  prefix?: string
  /** Master pid file; when absent, the main config's `pid` directive, else nginx's compile-time default. */
  pidFile?: string
  /**
   * Reload with this command (argv, already split) instead of SIGHUP to the
   * master: for an nginx the renderer cannot signal. Confirmed the same way.
   */
  reloadCmd?: string[]
  statusPort: number
  /** How long a reload may take to show the new generation. */
  reloadTimeoutMs: number
  /** How long one `nginx -t` may take (default 120 s: 10,000 upstreams take seconds). */
  testTimeoutMs?: number
}

const TEST_TIMEOUT_MS = 120_000

/** The `pid` directive of one main config text, if any (see nginx-pid.ts for includes). */
export function pidFromConf (text: string): string | undefined {
  return pidFromFiles(new Map([['/nginx.conf', text]]))
}

/** stdout + stderr of a command, or null when it failed (never throws). */
async function output (bin: string, args: string[]): Promise<{ ok: boolean, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(bin, args, { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ ok: err == null, stdout: String(stdout), stderr: String(stderr) }))
  })
}

/** GET of the status server's generation; null when nothing answers. */
export function fetchGeneration (port: number, timeoutMs = 500): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/driftgate/generation', agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => {
        const n = Number(body.trim())
        resolve(res.statusCode === 200 && Number.isInteger(n) ? n : null)
      })
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(null))
    req.end()
  })
}

export class NginxController {
  private readonly tester: ForkServer
  private readonly reloader?: ForkServer
  /** The pid file found from the config (resolved once; again after nginx was not found). */
  private pidPath?: string

  constructor (private readonly opts: NginxOptions) {
    this.tester = new ForkServer([opts.bin, ...this.baseArgs(), '-t', '-q'], opts.testTimeoutMs ?? TEST_TIMEOUT_MS)
    // The reload command runs as a fixed argv through its own fork server:
    // never a shell command line, and no fork of the large renderer process.
    if (opts.reloadCmd != null && opts.reloadCmd.length > 0) this.reloader = new ForkServer(opts.reloadCmd, opts.reloadTimeoutMs)
  }

  private baseArgs (): string[] {
    return [...(this.opts.prefix != null ? ['-p', this.opts.prefix] : []), '-c', this.opts.conf]
  }

  /**
   * Throws NginxRejectedError with nginx's message when the config is
   * refused, NginxTestError when nginx -t gave no verdict (its helper crashed
   * or it timed out): that says nothing about the config.
   */
  async test (): Promise<void> {
    const { code, output, failure } = await this.tester.run()
    if (failure != null) throw new NginxTestError(`nginx -t gave no verdict (${failure}): ${output.trim()}`)
    if (code !== 0) throw new NginxRejectedError(output)
  }

  /**
   * The pid file as nginx decides it: `nginx -T` (every file it reads) for
   * the main context's `pid`, else `nginx -V`'s compile-time --pid-path.
   */
  async pidFile (): Promise<string> {
    if (this.opts.pidFile != null) return this.opts.pidFile
    if (this.pidPath != null) return this.pidPath
    const dump = await output(this.opts.bin, [...this.baseArgs(), '-T', '-q'])
    // -T refuses a broken config (e.g. generated files being fixed): the main file still says where the pid is
    const files = dump.ok ? splitDump(dump.stdout) : new Map([[this.opts.conf, await readFile(this.opts.conf, 'utf8').catch(() => '')]])
    const directive = pidFromFiles(files)
    const v = directive != null && directive.startsWith('/') ? { pidPath: '', prefix: '' } : buildDefaults((await output(this.opts.bin, ['-V'])).stderr)
    this.pidPath = pidFilePath(directive, v, this.opts.prefix)
    return this.pidPath
  }

  async masterPid (): Promise<number> {
    const file = await this.pidFile()
    let text: string
    try { text = await readFile(file, 'utf8') } catch (err) {
      this.pidPath = undefined // the config may have moved it: look again next time
      throw new NginxNotRunningError(`cannot read nginx pid file ${file}: nginx is not running`, { cause: err })
    }
    const pid = Number(text.trim())
    if (!Number.isInteger(pid) || pid <= 1) throw new NginxNotRunningError(`nginx pid file ${file} holds no pid`)
    return pid
  }

  /** The generation nginx serves now, or null. */
  async generation (): Promise<number | null> { return await fetchGeneration(this.opts.statusPort) }

  /**
   * SIGHUP to the master, then polls the status server until it answers
   * `generation`. Throws NginxReloadError when nginx kept the old config
   * (e.g. a listen address it could not bind) or is not running.
   */
  async reload (generation: number): Promise<void> {
    if (this.reloader != null) {
      const r = await this.reloader.run()
      if (r.failure != null || r.code !== 0) {
        throw new NginxReloadError(`reload command ${JSON.stringify(this.opts.reloadCmd)} failed (${r.failure ?? `exit ${r.code}`}): ${r.output.trim().slice(0, 500)}`)
      }
      await this.waitFor(generation, this.opts.reloadTimeoutMs)
      return
    }
    const pid = await this.masterPid()
    try { process.kill(pid, 'SIGHUP') } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new NginxNotRunningError(`nginx master ${pid} (pid file) is gone: nginx is not running`, { cause: err })
      throw new NginxReloadError(`cannot signal nginx master ${pid}: ${(err as Error).message}`, { cause: err })
    }
    await this.waitFor(generation, this.opts.reloadTimeoutMs)
  }

  async waitFor (generation: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const fastUntil = Date.now() + 250
    let seen: number | null = null
    while (Date.now() < deadline) {
      seen = await fetchGeneration(this.opts.statusPort, Math.max(50, deadline - Date.now()))
      if (seen === generation) return
      // A reload usually lands within tens of ms: poll every 2 ms at first (a
      // loopback request costs ~0.1 ms), then back off for slow reloads.
      await new Promise((resolve) => setTimeout(resolve, Date.now() < fastUntil ? 2 : 10))
    }
    throw new NginxReloadError(`nginx did not apply generation ${generation} within ${timeoutMs} ms ` +
      `(it serves ${seen ?? 'nothing'}): see the nginx error log`)
  }

  /** Stops the helper that runs `nginx -t`. Idempotent. */
  close (): void { this.tester.close(); this.reloader?.close() }
}
