// Whether dockerd runs in this process's network namespace. The shim must
// be made where the MacVLAN parent is, i.e. in dockerd's namespace; an agent
// elsewhere (another namespace, another machine over tcp://) would otherwise
// put a macvlan on a same-named but different interface. Unix sockets belong
// to the namespace of the process that bound them, and /proc/self/net/unix
// lists only this namespace's: dockerd's listening socket appears there iff
// we share its namespace. No privileges needed.
import { readFileSync, realpathSync } from 'node:fs'

/** __SO_ACCEPTCON: a listening socket. */
const ACCEPTCON = 0x10000

/** Paths of the listening unix sockets in a /proc/net/unix text. */
export function listeningPaths (procNetUnix: string): Set<string> {
  const out = new Set<string>()
  for (const line of procNetUnix.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 8 || (parseInt(f[3], 16) & ACCEPTCON) === 0) continue
    out.add(f.slice(7).join(' '))
  }
  return out
}

/**
 * null when dockerd (at `socketPath`) listens in our network namespace, else
 * why the shim cannot be made here.
 */
export function dockerNamespaceProblem (socketPath: string | undefined, procNetUnix?: string): string | null {
  if (socketPath === undefined) return 'Docker is reached over TCP: the shim needs the agent on the Docker host, on its unix socket'
  let text = procNetUnix
  try { text ??= readFileSync('/proc/self/net/unix', 'utf8') } catch { return 'cannot read /proc/self/net/unix' }
  const paths = listeningPaths(text)
  let real = socketPath
  try { real = realpathSync(socketPath) } catch { /* compare as given */ }
  if (paths.has(socketPath) || paths.has(real)) return null
  return `dockerd's socket ${socketPath} does not listen in this agent's network namespace: run the agent in dockerd's namespace for the shim (no shim made)`
}
