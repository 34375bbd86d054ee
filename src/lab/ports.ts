// Free loopback TCP ports. The kernel picks a port for a listener on :0; we
// close it and hand the number out. A port handed out once is never handed out
// again by this process, so two daemons started back to back cannot collide.
import net from 'node:net'

const given = new Set<number>()

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await probe()
    if (port > 0 && !given.has(port)) {
      given.add(port)
      return port
    }
  }
  throw new Error('could not find a free loopback port')
}

export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(await freePort())
  return out
}

/** True when something accepts TCP connections on host:port. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host })
    const done = (ok: boolean) => {
      sock.destroy()
      resolve(ok)
    }
    sock.setTimeout(timeoutMs, () => done(false))
    sock.once('connect', () => done(true))
    sock.once('error', () => done(false))
  })
}
