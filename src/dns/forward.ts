// Forwards queries for names outside our domain to upstream resolvers over
// UDP, one shared socket, answers matched by a fresh random id and the
// resolver's address. Each resolver gets an equal share of the timeout, in
// order; when all are silent the caller answers SERVFAIL.
import { createSocket, type Socket } from 'node:dgram'
import { connect as tcpConnect } from 'node:net'
import { randomInt } from 'node:crypto'
import { ConfigError, isIPv4, type Logger } from '../core/index.js'

export interface Upstream { host: string, port: number }

export interface ForwarderOptions {
  servers: string[]
  /** Total time budget per query across all resolvers. dig gives up after 5 s. */
  timeoutMs?: number
  /** Queries in flight at once; beyond this, SERVFAIL at once (flood protection). */
  maxPending?: number
  log: Logger
}

interface Pending { upstream: Upstream, resolve: (reply: Buffer | null) => void, timer: NodeJS.Timeout }

/** "10.0.0.1" or "10.0.0.1:5353" → Upstream. IPv4 only. */
export function parseUpstream (s: string): Upstream {
  const m = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(s.trim())
  const port = m?.[2] !== undefined ? Number(m[2]) : 53
  if (m == null || !isIPv4(m[1]) || port < 1 || port > 65535) {
    throw new ConfigError('registry', [{ field: 'dnsForward', message: `"${s}" is not an IPv4 resolver address (ip or ip:port)` }])
  }
  return { host: m[1], port }
}

export class Forwarder {
  private readonly upstreams: Upstream[]
  private readonly pending = new Map<number, Pending>()
  private socket?: Socket
  private readonly timeoutMs: number
  private readonly maxPending: number

  constructor (private readonly opts: ForwarderOptions) {
    this.upstreams = opts.servers.map(parseUpstream)
    this.timeoutMs = opts.timeoutMs ?? 2000
    this.maxPending = opts.maxPending ?? 2048
  }

  get enabled (): boolean { return this.upstreams.length > 0 }
  get inFlight (): number { return this.pending.size }

  async start (): Promise<void> {
    if (!this.enabled || this.socket !== undefined) return
    const sock = createSocket('udp4')
    sock.on('message', (msg, rinfo) => { this.onReply(msg, rinfo.address, rinfo.port) })
    sock.on('error', (err) => { this.opts.log.warn({ err }, 'dns forward socket error') })
    await new Promise<void>((resolve) => sock.bind(0, resolve))
    this.socket = sock
  }

  private onReply (msg: Buffer, address: string, port: number): void {
    if (msg.length < 12) return
    const p = this.pending.get(msg.readUInt16BE(0))
    // Only the resolver we asked may answer (cheap spoofing guard).
    if (p === undefined || p.upstream.host !== address || p.upstream.port !== port) return
    this.pending.delete(msg.readUInt16BE(0))
    clearTimeout(p.timer)
    p.resolve(msg)
  }

  private freeId (): number {
    for (;;) {
      const id = randomInt(0, 65536)
      if (!this.pending.has(id)) return id
    }
  }

  private once (query: Buffer, upstream: Upstream, ms: number): Promise<Buffer | null> {
    const sock = this.socket
    if (sock === undefined || this.pending.size >= this.maxPending) return Promise.resolve(null)
    const id = this.freeId()
    const copy = Buffer.from(query)
    copy.writeUInt16BE(id, 0)
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.pending.delete(id); resolve(null) }, ms)
      this.pending.set(id, { upstream, resolve, timer })
      sock.send(copy, upstream.port, upstream.host, (err) => {
        if (err != null && this.pending.delete(id)) { clearTimeout(timer); resolve(null) }
      })
    })
  }

  // One query over TCP (RFC 7766 framing), for TCP clients whose UDP answer came back truncated.
  private onceTcp (query: Buffer, upstream: Upstream, ms: number): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const sock = tcpConnect(upstream.port, upstream.host)
      let buf = Buffer.alloc(0)
      const finish = (reply: Buffer | null): void => { clearTimeout(timer); sock.destroy(); resolve(reply) }
      const timer = setTimeout(() => finish(null), ms)
      sock.on('error', () => finish(null))
      sock.on('connect', () => {
        const len = Buffer.alloc(2)
        len.writeUInt16BE(query.length, 0)
        sock.write(Buffer.concat([len, query]))
      })
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk])
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) finish(buf.subarray(2, 2 + buf.readUInt16BE(0)))
      })
      sock.on('end', () => finish(null))
    })
  }

  /**
   * The upstream's reply with the client's id put back, or null (answer
   * SERVFAIL). For a TCP client, a truncated UDP reply is asked again over TCP.
   */
  async forward (query: Buffer, tcp = false): Promise<Buffer | null> {
    const share = Math.max(50, Math.floor(this.timeoutMs / Math.max(1, this.upstreams.length)))
    for (const u of this.upstreams) {
      let reply = await this.once(query, u, share)
      if (reply !== null && tcp && reply.length >= 4 && (reply[2] & 0x02) !== 0) {
        reply = (await this.onceTcp(query, u, share)) ?? reply
      }
      if (reply !== null) {
        reply.writeUInt16BE(query.readUInt16BE(0), 0)
        return reply
      }
    }
    return null
  }

  async close (): Promise<void> {
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.resolve(null) }
    this.pending.clear()
    const sock = this.socket
    this.socket = undefined
    if (sock !== undefined) await new Promise<void>((resolve) => sock.close(() => resolve()))
  }
}
