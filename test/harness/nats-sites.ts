// Two sites on one machine (issue 21): two nats-servers, each its own
// JetStream domain, joined by one leaf-node link that goes through a TCP
// relay in this process, so a test can cut the link and restore it without
// touching either server. The hub advertises the relay's address as its leaf
// URL: otherwise the leaf learns the hub's real listen address from its INFO
// and reconnects around the relay (measured). The leaf logs in with a user
// whose permissions are siteLinkPermissions() (only what the mirrors need);
// local clients of the hub connect without credentials (no_auth_user).
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { siteLinkPermissions } from '../../src/bus/index.js'
import { freePorts } from '../../src/lab/index.js'
import { startNats, type NatsServer } from './nats.js'

export interface SiteLink {
  /** Drops the link's connections and refuses new ones until restore(). */
  cut: () => void
  restore: () => void
  readonly up: boolean
}

export interface NatsSites {
  /** The hub (site `a`) and the leaf (site `b`). */
  a: NatsServer
  b: NatsServer
  link: SiteLink
  stop: () => Promise<void>
}

const list = (xs: string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`

function relay (port: number, target: number): { server: Server, link: SiteLink, close: () => void } {
  const sockets = new Set<Socket>()
  let up = true
  const server = createServer((client) => {
    if (!up) { client.destroy(); return }
    const upstream = tcpConnect(target, '127.0.0.1')
    sockets.add(client); sockets.add(upstream)
    const end = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', end); upstream.on('error', end); client.on('close', end); upstream.on('close', end)
    client.pipe(upstream); upstream.pipe(client)
  })
  server.listen(port, '127.0.0.1')
  const drop = (): void => { for (const s of sockets) s.destroy(); sockets.clear() }
  return {
    server,
    link: { cut: () => { up = false; drop() }, restore: () => { up = true }, get up () { return up } },
    close: () => { up = false; drop(); server.close() },
  }
}

export async function startNatsSites (opts: { prefix?: string, /** extra nats-server arguments for both servers (e.g. -DV) */ args?: string[] } = {}): Promise<NatsSites> {
  const dir = mkdtempSync(join(tmpdir(), 'driftgate-sites-'))
  const [leafPort, relayPort] = await freePorts(2)
  const pass = randomBytes(12).toString('hex')
  const perms = siteLinkPermissions('a', 'b', opts.prefix)
  const hubConf = join(dir, 'a.conf')
  writeFileSync(hubConf, `jetstream { domain: a }
authorization {
  users: [
    { user: local, password: ${JSON.stringify(randomBytes(12).toString('hex'))} }
    { user: site_b, password: ${JSON.stringify(pass)}, permissions: { publish: { allow: ${list(perms.publish)} }, subscribe: { allow: ${list(perms.subscribe)} } } }
  ]
}
no_auth_user: local
leafnodes { host: 127.0.0.1, port: ${leafPort}, advertise: "127.0.0.1:${relayPort}" }
`)
  const leafConf = join(dir, 'b.conf')
  writeFileSync(leafConf, `jetstream { domain: b }
leafnodes { reconnect: 1, remotes: [ { url: "nats-leaf://site_b:${pass}@127.0.0.1:${relayPort}" } ] }
`)
  const r = relay(relayPort, leafPort)
  let a: NatsServer | undefined
  try {
    a = await startNats({ args: ['-c', hubConf, ...(opts.args ?? [])] })
    const b = await startNats({ args: ['-c', leafConf, ...(opts.args ?? [])] })
    return {
      a, b, link: r.link,
      stop: async () => { r.close(); await Promise.all([a!.stop(), b.stop()]); rmSync(dir, { recursive: true, force: true }) },
    }
  } catch (err) {
    r.close(); await a?.stop(); rmSync(dir, { recursive: true, force: true })
    throw err
  }
}
