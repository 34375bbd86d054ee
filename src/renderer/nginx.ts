// The nginx controller: `nginx -t` against the main config, graceful reload by
// SIGHUP to the master, and confirmation through the generated status server
// that the new configuration is really the one serving.
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { NginxNotRunningError, NginxRejectedError, NginxReloadError, NginxTestError } from '../core/index.js'
import { ForkServer } from './forkserver.js'

export interface NginxOptions {
  bin: string
  /** Main nginx.conf (the one that includes <out>/*.conf). */
  conf: string
  /** nginx -p prefix, when the main config uses relative paths. */
  prefix?: string
  /** Master pid file; when absent, read from the main config's `pid` directive. */
  pidFile?: string
  statusPort: number
  /** How long a reload may take to show the new generation. */
  reloadTimeoutMs: number
  /** How long one `nginx -t` may take (default 120 s: 10,000 upstreams take seconds). */
  testTimeoutMs?: number
}

const TEST_TIMEOUT_MS = 120_000

/** The `pid` directive of a main config, if any (nginx's own default is compile-time). */
export function pidFromConf (text: string): string | undefined {
  const m = /^\s*pid\s+([^;\s]+)\s*;/m.exec(text)
  return m?.[1]
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

  constructor (private readonly opts: NginxOptions) {
    this.tester = new ForkServer([opts.bin, ...this.baseArgs(), '-t', '-q'], opts.testTimeoutMs ?? TEST_TIMEOUT_MS)
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

  async masterPid (): Promise<number> {
    let file = this.opts.pidFile
    if (file == null) {
      const conf = await readFile(this.opts.conf, 'utf8')
      file = pidFromConf(conf)
      if (file == null) throw new NginxReloadError(`no pid file: set --nginx-pid or a pid directive in ${this.opts.conf}`)
      if (!file.startsWith('/') && this.opts.prefix != null) file = `${this.opts.prefix}/${file}`
    }
    let text: string
    try { text = await readFile(file, 'utf8') } catch (err) {
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
  close (): void { this.tester.close() }
}
