// The DNS listener: UDP and TCP on the same port. Each query is decoded,
// answered from the view (synchronously) or forwarded (asynchronously), and
// sized for its transport: every reply, forwarded ones included, fits the
// client's limit (512 without EDNS, the EDNS size clamped to udpMax, TC when
// cut). Bad input is dropped or answered FORMERR and counted; nothing a
// client sends can throw out of a handler. Bounded work per client: a token
// bucket per source address (rate.ts), forwarding only for allowed networks
// (allow.ts), TCP backpressure and a connection cap (tcp.ts).
import { createSocket, type Socket } from 'node:dgram'
import { createServer, type Server, type Socket as TcpSocket } from 'node:net'
import { Counter, type Registry } from 'prom-client'
import type { Logger } from '../../../core/index.js'
import type { LookupView } from '../view.js'
import { answerQuery, type AnswerConfig } from './answer.js'
import {
  ClientRateLimit, Forwarder, Rcode, UDP_MAX, bare, decodeQuery, encodeFit, fitForwarded, rcodeOf, serveTcp, udpLimit,
} from '../../../dns/index.js'
import { AnswerCache, cacheKey } from './cache.js'
import { ForwardAllow } from './allow.js'
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
  /** TCP: connections at once, and idle time before one is closed (also: a client not draining its replies). */
  maxTcpConnections?: number
  tcpIdleMs?: number
  /** Largest UDP answer, whatever EDNS size a client asks for (default 1232). */
  udpMax?: number
  /** Who may have outside names forwarded (default: loopback only). */
  forwardAllow?: ForwardAllow
  /** Responses per second per client address (0 = no limit) and the burst. */
  rateLimit?: number
  rateBurst?: number
}

export const DEFAULT_DNS_RATE = 1000
export const DEFAULT_DNS_BURST = 2000
/** Reply bytes queued for one TCP client before it is dropped (beyond the socket's own buffers). */
const MAX_TCP_QUEUED = 256 * 1024
const MAX_TCP_IN_FLIGHT = 32

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED']

export class DnsServer {
  private udp?: Socket
  private tcp?: Server
  private readonly conns = new Set<TcpSocket>()
  private readonly forwarder: Forwarder
  private readonly cfg: AnswerConfig
  private readonly queries: Counter<'transport' | 'rcode'>
  private readonly dropped: Counter<'reason'>
  private readonly rateDropped: { inc: () => void }
  private readonly rate: ClientRateLimit
  private readonly allow: ForwardAllow
  private readonly udpMax: number
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
    new Counter({  
      name: 'driftgate_lookup_dns_cache_hits_total', help: 'DNS answers served from the encoded-answer cache',
      registers: [opts.metrics], collect () { this.reset(); this.inc(cache.hits) },
    })
    this.dropped = new Counter({
      name: 'driftgate_lookup_dns_dropped_total',
      help: 'DNS packets dropped or answered FORMERR, and TCP clients dropped, by reason (rate_limited: over the per-client limit)',
      labelNames: ['reason'], registers: [opts.metrics],
    })
    this.rateDropped = this.dropped.labels({ reason: 'rate_limited' })
    this.rate = new ClientRateLimit({ rate: opts.rateLimit ?? DEFAULT_DNS_RATE, burst: opts.rateBurst ?? DEFAULT_DNS_BURST })
    this.allow = opts.forwardAllow ?? new ForwardAllow(['loopback'], undefined, opts.log)
    this.udpMax = opts.udpMax ?? UDP_MAX
  }

  /** Whether a client at `address` gets outside names forwarded. */
  forwardAllowed (address: string): boolean { return this.allow.allows(address) }

  /** Reply bytes waiting in TCP write buffers, all connections. */
  tcpQueuedBytes (): number {
    let n = 0
    for (const c of this.conns) n += c.writableLength
    return n
  }

  tcpConnections (): number { return this.conns.size }

  /** The listening address (127.0.0.1 unless configured). */
  address (): string { return this.opts.host ?? '127.0.0.1' }

  /**
   * One query in, one reply out (or null: send nothing). Sync when answered
   * locally. `client` is the source address (forwarding is per client).
   */
  respond (raw: Buffer, tcp: boolean, client = '127.0.0.1'): Buffer | null | Promise<Buffer | null> {
    const generation = this.opts.view.generation
    const key = cacheKey(raw, tcp, this.udpMax)
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
    const limit = tcp ? 65535 : udpLimit(query, this.udpMax)
    const outcome = answerQuery(query, this.opts.view, this.cfg, this.cfg.forwarding && this.allow.allows(client))
    if (outcome.kind === 'answer') {
      const reply = encodeFit(outcome.packet, limit)
      if (key !== null && outcome.cacheable !== false) this.cache.put(key, raw, reply, outcome.packet, generation)
      return reply
    }
    return this.forwarder.forward(raw, tcp).then((reply) => reply !== null
      ? fitForwarded(reply, limit, query)
      : dnsPacket.encode(bare(query.id ?? 0, Rcode.SERVFAIL, query.flag_rd, query.questions?.[0])))
  }

  // Plain numbers on the hot path (index = rcode, 6 = other); prom-client reads them at scrape time.
  private readonly counts = { udp: new Array<number>(7).fill(0), tcp: new Array<number>(7).fill(0) }
  private count (reply: Buffer, transport: 'udp' | 'tcp'): void {
    const rc = rcodeOf(reply)
    this.counts[transport][rc < 6 ? rc : 6]++
  }

  private onUdp (msg: Buffer, address: string, port: number): void {
    // Over its rate the client gets nothing: no work, no reply to amplify.
    if (!this.rate.take(address)) { this.rateDropped.inc(); return }
    let out: Buffer | null | Promise<Buffer | null>
    try {
      out = this.respond(msg, false, address)
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
    sock.on('close', () => this.conns.delete(sock))
    const client = sock.remoteAddress ?? ''
    const idleMs = this.opts.tcpIdleMs ?? 10_000
    serveTcp(sock, {
      respond: (frame) => {
        if (!this.rate.take(client)) { this.rateDropped.inc(); return null }
        return this.respond(frame, true, client)
      },
      sent: (reply) => this.count(reply, 'tcp'),
      dropped: (reason) => this.dropped.inc({ reason }),
      idleMs,
      stallMs: idleMs,
      maxQueued: MAX_TCP_QUEUED,
      maxInFlight: MAX_TCP_IN_FLIGHT,
    })
  }

  private async bindUdp (port: number): Promise<Socket> {
    // Replies go to the literal address the query came from: skip dns.lookup's
    // deferred callback on every send (a measurable share of per-packet cost).
    const sock = createSocket({ type: 'udp4', lookup: (address, _opts, cb) => { (cb as (e: null, a: string, f: number) => void)(null, address, 4) } })
    sock.on('message', (msg, rinfo) => this.onUdp(msg, rinfo.address, rinfo.port))
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject)
      sock.bind(port, this.address(), () => { sock.off('error', reject); resolve() })
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
      server.listen(port, this.address(), () => { server.off('error', reject); resolve() })
    })
    return server
  }

  /** Binds UDP then TCP on the same port; with port 0, retries until one free port serves both. */
  async start (): Promise<void> {
    await this.forwarder.start()
    await this.allow.start()
    for (let attempt = 0; ; attempt++) {
      const udp = await this.bindUdp(this.opts.port)
      const port = udp.address().port
      try {
        this.tcp = await this.bindTcp(port)
        this.udp = udp
        this.port = port
        this.opts.log.info({ port, host: this.address(), domain: this.cfg.domain, udpMax: this.udpMax }, 'dns listening')
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
    this.allow.close()
  }
}
