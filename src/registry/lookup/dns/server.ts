// The DNS listener: UDP and TCP on the same port. Each query is decoded,
// answered from the view (synchronously) or forwarded (asynchronously), and
// sized for its transport. Bad input is dropped or answered FORMERR and
// counted; nothing a client sends can throw out of a handler.
import { createSocket, type Socket } from 'node:dgram'
import { createServer, type Server, type Socket as TcpSocket } from 'node:net'
import { Counter, type Registry } from 'prom-client'
import type { Logger } from '../../../core/index.js'
import type { LookupView } from '../view.js'
import { answerQuery, bare, Rcode, type AnswerConfig } from './answer.js'
import { decodeQuery, encodeFit, rcodeOf, udpLimit } from './codec.js'
import { Forwarder } from './forward.js'
import { AnswerCache, cacheKey } from './cache.js'
import dnsPacket from 'dns-packet'

export interface DnsServerOptions {
  view: LookupView
  log: Logger
  metrics: Registry
  host?: string
  port: number
  domain: string
  ttl: number
  forward: string[]
  forwardTimeoutMs?: number
  /** TCP: connections at once, and idle time before one is closed. */
  maxTcpConnections?: number
  tcpIdleMs?: number
}

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED']
const MAX_TCP_BUFFER = 2 + 65535

export class DnsServer {
  private udp?: Socket
  private tcp?: Server
  private readonly conns = new Set<TcpSocket>()
  private readonly forwarder: Forwarder
  private readonly cfg: AnswerConfig
  private readonly queries: Counter<'transport' | 'rcode'>
  private readonly dropped: Counter<'reason'>
  readonly cache = new AnswerCache()
  private closed = false
  port = 0

  constructor (private readonly opts: DnsServerOptions) {
    this.forwarder = new Forwarder({ servers: opts.forward, timeoutMs: opts.forwardTimeoutMs, log: opts.log })
    this.cfg = { domain: opts.domain.toLowerCase().replace(/\.$/, ''), ttl: opts.ttl, forwarding: this.forwarder.enabled }
    const counts = (): DnsServer['counts'] => this.counts
    this.queries = new Counter({
      name: 'driftgate_lookup_dns_queries_total', help: 'DNS queries answered, by transport and rcode',
      labelNames: ['transport', 'rcode'], registers: [opts.metrics],
      collect () {
        this.reset()
        for (const transport of ['udp', 'tcp'] as const) {
          counts()[transport].forEach((n, rc) => { if (n > 0) this.inc({ transport, rcode: RCODE_NAMES[rc] ?? 'OTHER' }, n) })
        }
      },
    })
    const cache = this.cache
    new Counter({ // eslint-disable-line no-new
      name: 'driftgate_lookup_dns_cache_hits_total', help: 'DNS answers served from the encoded-answer cache',
      registers: [opts.metrics], collect () { this.reset(); this.inc(cache.hits) },
    })
    this.dropped = new Counter({
      name: 'driftgate_lookup_dns_dropped_total', help: 'DNS packets dropped or answered FORMERR, by reason',
      labelNames: ['reason'], registers: [opts.metrics],
    })
  }

  /** One query in, one reply out (or null: send nothing). Sync when answered locally. */
  respond (raw: Buffer, tcp: boolean): Buffer | null | Promise<Buffer | null> {
    const generation = this.opts.view.generation
    const key = cacheKey(raw, tcp)
    if (key !== null) {
      const hit = this.cache.get(key, raw, generation)
      if (hit !== null) return hit
    }
    const decoded = decodeQuery(raw)
    if (!decoded.ok) {
      this.dropped.inc({ reason: decoded.reply === null ? 'not_a_query' : 'malformed' })
      return decoded.reply
    }
    const query = decoded.packet
    const outcome = answerQuery(query, this.opts.view, this.cfg)
    if (outcome.kind === 'answer') {
      const reply = encodeFit(outcome.packet, tcp ? 65535 : udpLimit(query))
      if (key !== null) this.cache.put(key, raw, reply, outcome.packet, generation)
      return reply
    }
    return this.forwarder.forward(raw, tcp).then((reply) => reply ?? dnsPacket.encode(
      bare(query.id ?? 0, Rcode.SERVFAIL, query.flag_rd, query.questions?.[0])))
  }

  // Plain numbers on the hot path (index = rcode, 6 = other); prom-client reads them at scrape time.
  private readonly counts = { udp: new Array<number>(7).fill(0), tcp: new Array<number>(7).fill(0) }
  private count (reply: Buffer, transport: 'udp' | 'tcp'): void {
    const rc = rcodeOf(reply)
    this.counts[transport][rc < 6 ? rc : 6]++
  }

  private onUdp (msg: Buffer, address: string, port: number): void {
    let out: Buffer | null | Promise<Buffer | null>
    try {
      out = this.respond(msg, false)
    } catch (err) {
      this.dropped.inc({ reason: 'error' })
      this.opts.log.warn({ err }, 'dns query failed')
      return
    }
    if (out instanceof Promise) {
      out.then((reply) => { this.sendUdp(reply, address, port) }, (err: unknown) => { this.opts.log.warn({ err }, 'dns forward failed') })
    } else {
      this.sendUdp(out, address, port)
    }
  }

  private sendUdp (reply: Buffer | null, address: string, port: number): void {
    if (reply === null || this.udp === undefined) return
    this.count(reply, 'udp')
    this.udp.send(reply, port, address)
  }

  private onTcp (sock: TcpSocket): void {
    this.conns.add(sock)
    sock.setNoDelay(true)
    sock.setTimeout(this.opts.tcpIdleMs ?? 10_000, () => sock.destroy())
    sock.on('error', () => {})
    sock.on('close', () => this.conns.delete(sock))
    let buf: Buffer = Buffer.alloc(0)
    const send = (reply: Buffer | null): void => {
      if (reply === null || sock.destroyed) return
      this.count(reply, 'tcp')
      const len = Buffer.alloc(2)
      len.writeUInt16BE(reply.length, 0)
      sock.write(Buffer.concat([len, reply]))
    }
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
      if (buf.length > MAX_TCP_BUFFER * 2) { this.dropped.inc({ reason: 'tcp_overflow' }); sock.destroy(); return }
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0)
        if (len === 0) { this.dropped.inc({ reason: 'malformed' }); sock.destroy(); return }
        if (buf.length < 2 + len) break
        const frame = buf.subarray(2, 2 + len)
        buf = buf.subarray(2 + len)
        try {
          const out = this.respond(Buffer.from(frame), true)
          if (out instanceof Promise) out.then(send, () => {})
          else send(out)
        } catch (err) {
          this.dropped.inc({ reason: 'error' })
          this.opts.log.warn({ err }, 'dns query failed')
        }
      }
    })
  }

  private async bindUdp (port: number): Promise<Socket> {
    // Replies go to the literal address the query came from: skip dns.lookup's
    // deferred callback on every send (a measurable share of per-packet cost).
    const sock = createSocket({ type: 'udp4', lookup: (address, _opts, cb) => { (cb as (e: null, a: string, f: number) => void)(null, address, 4) } })
    sock.on('message', (msg, rinfo) => this.onUdp(msg, rinfo.address, rinfo.port))
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject)
      sock.bind(port, this.opts.host ?? '0.0.0.0', () => { sock.off('error', reject); resolve() })
    })
    sock.on('error', (err) => this.opts.log.warn({ err }, 'dns udp socket error'))
    try { sock.setRecvBufferSize(4 * 1024 * 1024) } catch { /* capped by net.core.rmem_max: fine */ }
    return sock
  }

  private async bindTcp (port: number): Promise<Server> {
    const server = createServer((s) => this.onTcp(s))
    server.maxConnections = this.opts.maxTcpConnections ?? 512
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, this.opts.host ?? '0.0.0.0', () => { server.off('error', reject); resolve() })
    })
    return server
  }

  /** Binds UDP then TCP on the same port; with port 0, retries until one free port serves both. */
  async start (): Promise<void> {
    await this.forwarder.start()
    for (let attempt = 0; ; attempt++) {
      const udp = await this.bindUdp(this.opts.port)
      const port = udp.address().port
      try {
        this.tcp = await this.bindTcp(port)
        this.udp = udp
        this.port = port
        this.opts.log.info({ port, host: this.opts.host ?? '0.0.0.0', domain: this.cfg.domain }, 'dns listening')
        return
      } catch (err) {
        await new Promise<void>((resolve) => udp.close(() => resolve()))
        if (this.opts.port !== 0 || attempt >= 10) throw err
      }
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const udp = this.udp
    this.udp = undefined
    if (udp !== undefined) await new Promise<void>((resolve) => udp.close(() => resolve()))
    for (const c of this.conns) c.destroy()
    if (this.tcp !== undefined) await new Promise<void>((resolve) => this.tcp!.close(() => resolve()))
    await this.forwarder.close()
  }
}
