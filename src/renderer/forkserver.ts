// Runs one fixed command (`nginx -t …`) again and again through a small
// long-lived /bin/sh, instead of spawning it from Node each time.
//
// Node (libuv) starts a child with fork(), whose cost grows with the parent's
// memory: measured here, execFile('/bin/true') takes 2 ms from a 47 MB Node
// process, 23 ms at 360 MB and 52 ms at 1.1 GB. A renderer holding thousands
// of services is a large process, and `nginx -t` runs before every reload, so
// that cost sat on the path of every IP change. The shell is small: it forks
// in well under a millisecond whatever the renderer's size.
//
// The argv is fixed when the shell starts and passed as its positional
// parameters, never through a command line, so nothing is ever parsed by the
// shell. The first line on the shell's stdin is a per-shell random nonce
// (stdin, not argv or env: `ps` and /proc/<pid>/cmdline show arguments to
// every user, and a command's output that could guess the nonce could fake
// an exit code). Each run then writes one line to the shell's stdin; the
// shell runs the command and prints its output, then a line with the nonce
// and the exit code. A run that does not finish in time kills the shell (and
// the command) and the next run starts a new one.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'

export interface RunResult {
  code: number
  output: string
  /** Set when the command gave no verdict: the helper crashed, timed out or was closed. */
  failure?: 'crashed' | 'timeout' | 'closed'
}

const SCRIPT = [
  'IFS= read -r nonce || exit 1',
  'while IFS= read -r _; do',
  '  out=$("$@" 2>&1 </dev/null); rc=$?',
  '  printf "%s\\n%s %s\\n" "$out" "$nonce" "$rc"',
  'done',
].join('\n')

/** Largest output kept from one run (nginx -t prints a few lines). */
const MAX_OUTPUT = 1024 * 1024

interface Pending { resolve: (r: RunResult) => void, timer: NodeJS.Timeout, child: ChildProcess }

export class ForkServer {
  private child: ChildProcess | null = null
  private nonce = ''
  private buf = ''
  private pending: Pending | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor (private readonly argv: string[], private readonly timeoutMs: number, private readonly shell = '/bin/sh') {}

  /** Runs the command once; runs are serialised. Never rejects: failures come back as code -1. */
  async run (): Promise<RunResult> {
    const next = this.queue.then(async () => await this.runNow())
    this.queue = next.catch(() => undefined)
    return await next
  }

  private start (): ChildProcess {
    this.nonce = `__driftgate_end_${randomBytes(12).toString('hex')}`
    this.buf = ''
    const child = spawn(this.shell, ['-c', SCRIPT, 'driftgate-forkserver', ...this.argv], {
      stdio: ['pipe', 'pipe', 'ignore'], detached: true, // own process group: a timeout kills the command too
    })
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (chunk: string) => { if (this.child === child) this.onData(chunk) })
    child.stdin!.on('error', () => undefined) // EPIPE when the shell died: handled by 'exit'
    child.stdin!.write(`${this.nonce}\n`)
    child.on('error', (err) => {
      if (this.child === child) this.child = null
      this.finish({ code: -1, output: `cannot start ${this.shell}: ${err.message}`, failure: 'crashed' }, child)
    })
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null
      this.finish({ code: -1, output: `${this.shell} helper exited (${signal ?? code}) before ${this.argv[0]} finished`, failure: 'crashed' }, child)
    })
    child.unref()
    ;(child.stdin as unknown as { unref?: () => void }).unref?.()
    ;(child.stdout as unknown as { unref?: () => void }).unref?.()
    return child
  }

  private async runNow (): Promise<RunResult> {
    if (this.closed) return { code: -1, output: 'fork server closed', failure: 'closed' }
    this.child ??= this.start()
    const child = this.child
    return await new Promise<RunResult>((resolve) => {
      const timer = setTimeout(() => {
        this.kill(child)
        this.finish({ code: -1, output: `${this.argv[0]} did not finish within ${this.timeoutMs} ms`, failure: 'timeout' }, child)
      }, this.timeoutMs)
      this.pending = { resolve, timer, child }
      child.stdin!.write('\n')
    })
  }

  private onData (chunk: string): void {
    this.buf += chunk
    if (this.buf.length > MAX_OUTPUT) this.buf = this.buf.slice(-MAX_OUTPUT)
    const at = this.buf.lastIndexOf(`${this.nonce} `)
    if (at === -1 || (at > 0 && this.buf[at - 1] !== '\n')) return
    const m = /^(\d+)\n/.exec(this.buf.slice(at + this.nonce.length + 1))
    if (m === null) return
    // printf put one newline after the output and the nonce line after it.
    const output = this.buf.slice(0, Math.max(0, at - 1))
    this.buf = ''
    this.finish({ code: Number(m[1]), output: output === '' ? '' : `${output}\n` })
  }

  /** Settles the run in flight; with `child`, only if that run went to this child. */
  private finish (r: RunResult, child?: ChildProcess): void {
    const p = this.pending
    if (p === null || (child !== undefined && p.child !== child)) return
    this.pending = null
    clearTimeout(p.timer)
    p.resolve(r)
  }

  private kill (child: ChildProcess): void {
    if (this.child === child) this.child = null
    try { process.kill(-child.pid!, 'SIGKILL') } catch { child.kill('SIGKILL') }
  }

  /** Stops the shell. Idempotent. */
  close (): void {
    this.closed = true
    if (this.child !== null) this.kill(this.child)
    this.finish({ code: -1, output: 'fork server closed', failure: 'closed' })
  }
}
