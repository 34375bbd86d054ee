// Checks run before `driftgate up` / `driftgate demo` start anything, so a
// newcomer gets one clear sentence about what to do instead of a stack trace
// from deep inside a role.
import http from 'node:http'
import net from 'node:net'
import { connect } from 'nats'
import { PreflightError } from '../core/index.js'
import { redactUrls } from '../bus/index.js'
import { which } from './procs.js'

export const INSTALL_HINT = 'install it with: bash scripts/install-deps.sh (Debian packages nginx, nats-server, docker.io, ...)'

export function requireRoot (what: string, why: string, otherwise = ''): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new PreflightError(`${what} must run as root: it ${why}. Run it with sudo or as root${otherwise !== '' ? `, or ${otherwise}` : ''}`)
  }
}

/** Path of a required binary, or a PreflightError naming the package. */
export function requireBinary (bin: string, pkg = bin): string {
  const p = which(bin)
  if (p === undefined) throw new PreflightError(`${bin} is not installed (Debian package ${pkg}): ${INSTALL_HINT}`)
  return p
}

/** Resolves true when nothing listens on host:port (TCP). */
export async function portFree (port: number, host = '127.0.0.1'): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

/** Every port must be free; the error names each taken one and the flag that moves it. */
export async function requirePorts (ports: Array<{ port: number, flag: string, what: string }>, host = '127.0.0.1'): Promise<void> {
  const taken: string[] = []
  for (const p of ports) {
    if (p.port !== 0 && !(await portFree(p.port, host))) taken.push(`${p.what} port ${p.port} (choose another with ${p.flag} <port>)`)
  }
  if (taken.length > 0) {
    throw new PreflightError(`port${taken.length > 1 ? 's' : ''} already in use on ${host}: ${taken.join('; ')}. ` +
      'Is another driftgate up or demo running? (`ss -ltnp` shows who listens)')
  }
}

/** GET /_ping on a Docker socket path. */
export async function pingDocker (socketPath: string, timeoutMs = 3000): Promise<string | undefined> {
  return await new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode ?? '?'}`)
    })
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    req.on('timeout', () => { req.destroy(); resolve('no answer within 3 s') })
  })
}

export async function requireDocker (socket: string): Promise<void> {
  const path = socket.startsWith('unix://') ? socket.slice('unix://'.length) : socket
  if (!path.startsWith('/')) return // tcp:// daemons: the agent reports its own errors
  const problem = await pingDocker(path)
  if (problem === undefined) return
  const hint = problem === 'ENOENT'
    ? 'no socket there: is dockerd installed and running? (bash scripts/install-deps.sh installs docker.io; start it with `dockerd &` or `systemctl start docker`)'
    : problem === 'EACCES'
      ? 'permission denied: run as root or as a member of the docker group'
      : 'dockerd is not answering: start or restart it (`dockerd &` or `systemctl restart docker`)'
  throw new PreflightError(`cannot reach dockerd at ${path} (${problem}): ${hint}; or point --docker at another socket`)
}

/** Connects once to NATS; the error says how to run without an external server. */
export async function requireNats (servers: string): Promise<void> {
  try {
    const nc = await connect({ servers: servers.split(','), timeout: 3000, maxReconnectAttempts: 0 })
    await nc.close()
  } catch (err) {
    throw new PreflightError(`cannot reach NATS at ${redactUrls(servers)} (${redactUrls((err as Error).message)}): ` +
      'start nats-server with JetStream (`nats-server -js`), fix --nats, or leave --nats out to run an embedded nats-server')
  }
}
