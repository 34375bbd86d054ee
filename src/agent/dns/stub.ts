// The containers' resolver: a DNS stub on each shim address, port 53, UDP
// and TCP. Containers reach only their network (and port 53 there), never
// the registry's DNS on its loopback, so the stub relays: names under the
// domain go to the registry's DNS (--dns-upstream), other names to the
// host's resolvers (--dns-forward, else /etc/resolv.conf). It answers
// nothing itself: the packet codec, forwarder, per-client rate limit and TCP
// framing are the registry DNS's own (src/registry/lookup/dns), so the same
// bounds hold (reply sizes, queries in flight, TCP backpressure).
import { createSocket, type Socket } from 'node:dgram'
import { createServer, type Server } from 'node:net'
import { Counter, type Registry } from 'prom-client'
import dnsPacket from 'dns-packet'
import type { Logger } from '../../core/index.js'
import { ClientRateLimit, Forwarder, Rcode, bare, decodeQuery, fitForwarded, rcodeOf, serveTcp, udpLimit } from '../../dns/index.js'

export interface DnsStubOptions {
  /** The registry's zone, e.g. "driftgate": `<name>.<domain>` goes upstream. */
  domain: string
  /** The registry's DNS, ip[:port]. */
  upstream: string[]
  /** Resolvers for every other name, ip[:port]; empty: REFUSED. */
  forward: string[]
  log: Logger
  metrics: Registry
  port?: number
  /** Replies per second per container address, and the burst. */
  rateLimit?: number
  rateBurst?: number
}

interface Listener { udp: Socket, tcp: Server }

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED']

export class DnsStub {
  private readonly listeners = new Map<string, Listener>()
  private readonly zone: Forwarder
  private readonly outside: Forwarder
  private readonly rate: ClientRateLimit
  private readonly domain: string
  private readonly queries: Counter<'zone' | 'rcode'>
  private readonly dropped: Counter<'reason'>
  private started = false
  private closed = false

  constructor (private readonly o: DnsStubOptions) {
    this.domain = o.domain.toLowerCase().replace(/\.$/, '')
    this.zone = new Forwarder({ servers: o.upstream, log: o.log })
    this.outside = new Forwarder({ servers: o.forward, log: o.log })
    this.rate = new ClientRateLimit({ rate: o.rateLimit ?? 200, burst: o.rateBurst ?? 400 })
    this.queries = new Counter({ name: 'driftgate_agent_dns_queries_total', help: 'container DNS queries relayed by the agent, by zone (domain or outside) and rcode', labelNames: ['zone', 'rcode'], registers: [o.metrics] })
    this.dropped = new Counter({ name: 'driftgate_agent_dns_dropped_total', help: 'container DNS queries dropped, by reason (rate_limited, malformed, not_a_query)', labelNames: ['reason'], registers: [o.metrics] })
  }

  /** Addresses listened on now. */
  get addresses (): string[] { return [...this.listeners.keys()] }

  /** Which forwarder a name goes to. */
  private inZone (name: string): boolean {
    const n = name.toLowerCase().replace(/\.$/, '')
    return n === this.domain || n.endsWith(`.${this.domain}`)
  }

  /** One query → one reply (or null: send nothing). Never throws. */
  async respond (raw: Buffer, tcp: boolean): Promise<Buffer | null> {
    const decoded = decodeQuery(raw)
    if (!decoded.ok) {
      this.dropped.inc({ reason: decoded.reply === null ? 'not_a_query' : 'malformed' })
      return decoded.reply
    }
    const q = decoded.packet
    const question = q.questions?.[0]
    const zone = question !== undefined && this.inZone(question.name) ? 'domain' : 'outside'
    const fwd = zone === 'domain' ? this.zone : this.outside
    let reply: Buffer | null = null
    if (question !== undefined && fwd.enabled) {
      const got = await fwd.forward(raw, tcp)
      reply = got === null ? null : fitForwarded(got, tcp ? 65535 : udpLimit(q), q)
    }
    reply ??= dnsPacket.encode(bare(q.id ?? 0, fwd.enabled ? Rcode.SERVFAIL : Rcode.REFUSED, q.flag_rd, question))
    this.queries.inc({ zone, rcode: RCODES[rcodeOf(reply)] ?? 'OTHER' })
    return reply
  }

  private onUdp (sock: Socket, msg: Buffer, address: string, port: number): void {
    if (!this.rate.take(address)) { this.dropped.inc({ reason: 'rate_limited' }); return }
    void this.respond(msg, false).then((reply) => { if (reply !== null && !this.closed) sock.send(reply, port, address) }, () => {})
  }

  private async bind (address: string): Promise<Listener> {
    const port = this.o.port ?? 53
    const udp = createSocket('udp4')
    udp.on('message', (msg, r) => { this.onUdp(udp, msg, r.address, r.port) })
    await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(port, address, () => { udp.off('error', reject); resolve() }) })
    udp.on('error', (err) => { this.o.log.warn({ err: err.message, address }, 'dns stub udp error') })
    const tcp = createServer((s) => {
      const client = s.remoteAddress ?? ''
      serveTcp(s, {
        respond: (frame) => { if (!this.rate.take(client)) { this.dropped.inc({ reason: 'rate_limited' }); return null } return this.respond(frame, true) },
        sent: () => {},
        dropped: (reason) => this.dropped.inc({ reason }),
        idleMs: 10_000, stallMs: 10_000, maxQueued: 64 * 1024, maxInFlight: 16,
      })
    })
    tcp.maxConnections = 64
    try {
      await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen(port, address, () => { tcp.off('error', reject); resolve() }) })
    } catch (err) {
      udp.close()
      throw err
    }
    return { udp, tcp }
  }

  private async unbind (l: Listener): Promise<void> {
    await new Promise<void>((resolve) => l.udp.close(() => resolve()))
    await new Promise<void>((resolve) => l.tcp.close(() => resolve()))
  }

  /** Listens on exactly `addresses` (the shims'): new ones bound, gone ones closed. A failed bind is logged and retried next time. */
  async listen (addresses: Iterable<string>): Promise<void> {
    const want = new Set(addresses)
    // One change at a time: the shim manager may report again while we bind.
    this.queue = this.queue.then(async () => { await this.apply(want) })
    await this.queue
  }

  private queue: Promise<void> = Promise.resolve()

  private async apply (want: Set<string>): Promise<void> {
    if (this.closed) return
    if (!this.started) { this.started = true; await this.zone.start(); await this.outside.start() }
    for (const [a, l] of [...this.listeners]) if (!want.has(a)) { this.listeners.delete(a); await this.unbind(l) }
    for (const a of want) {
      if (this.listeners.has(a)) continue
      try {
        this.listeners.set(a, await this.bind(a))
        this.o.log.info({ address: a, port: this.o.port ?? 53, domain: this.domain, upstream: this.o.upstream, forward: this.o.forward }, 'container dns listening')
      } catch (err) {
        this.o.log.warn({ address: a, err: (err as Error).message }, 'container dns: cannot listen')
      }
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue
    for (const l of this.listeners.values()) await this.unbind(l)
    this.listeners.clear()
    await this.zone.close()
    await this.outside.close()
  }
}

/** IPv4 nameservers of a resolv.conf text (the host's resolvers, the default for names outside the domain). */
export function resolvConfServers (text: string): string[] {
  return text.split('\n').map((l) => /^\s*nameserver\s+([0-9.]+)\s*$/.exec(l)?.[1]).filter((s): s is string => s !== undefined)
}
