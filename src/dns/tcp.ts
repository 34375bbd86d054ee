// One DNS-over-TCP connection (RFC 7766 framing: a 2-byte length, then the
// message), with backpressure. Frames are answered in order of arrival
// (forwarded ones when their reply comes). Reading stops while the socket's
// write buffer is over its high-water mark or too many forwarded queries are
// in flight, and resumes on 'drain'; a client that does not drain its
// replies within `stallMs`, or lets more than `maxQueued` bytes pile up, is
// dropped. So a client that sends queries and never reads costs at most one
// socket buffer of replies, not one reply per query.
import type { Socket } from 'node:net'

export interface TcpConnOptions {
  /** Answers one frame: a reply, null (nothing to send), or a promise of either. */
  respond: (frame: Buffer) => Buffer | null | Promise<Buffer | null>
  /** Called per reply written (metrics). */
  sent: (reply: Buffer) => void
  /** Called when the connection is dropped for a reason worth counting. */
  dropped: (reason: 'tcp_overflow' | 'tcp_zero_length' | 'tcp_stalled' | 'error') => void
  idleMs: number
  stallMs: number
  maxQueued: number
  maxInFlight: number
}

const MAX_INPUT = 2 * (2 + 65535)

export function serveTcp (sock: Socket, opts: TcpConnOptions): void {
  let buf: Buffer = Buffer.alloc(0)
  let inFlight = 0
  let stall: NodeJS.Timeout | undefined
  sock.setNoDelay(true)
  sock.setTimeout(opts.idleMs, () => sock.destroy())
  sock.on('error', () => {})
  sock.on('close', () => { if (stall !== undefined) clearTimeout(stall) })

  const blocked = (): boolean => sock.writableNeedDrain || inFlight >= opts.maxInFlight
  const drop = (reason: Parameters<TcpConnOptions['dropped']>[0]): void => { opts.dropped(reason); sock.destroy() }

  const send = (reply: Buffer | null): void => {
    if (reply === null || sock.destroyed) return
    opts.sent(reply)
    const len = Buffer.allocUnsafe(2)
    len.writeUInt16BE(reply.length, 0)
    sock.write(Buffer.concat([len, reply]))
    if (sock.writableLength > opts.maxQueued) { drop('tcp_overflow'); return }
    if (sock.writableNeedDrain && stall === undefined) {
      stall = setTimeout(() => { drop('tcp_stalled') }, opts.stallMs)
    }
  }

  // Answers the complete frames in `buf` until blocked; the rest waits for pump() again.
  const pump = (): void => {
    while (buf.length >= 2 && !blocked() && !sock.destroyed) {
      const len = buf.readUInt16BE(0)
      if (len === 0) { drop('tcp_zero_length'); return }
      if (buf.length < 2 + len) break
      const frame = Buffer.from(buf.subarray(2, 2 + len))
      buf = buf.subarray(2 + len)
      let out: Buffer | null | Promise<Buffer | null>
      try { out = opts.respond(frame) } catch { opts.dropped('error'); continue }
      if (out instanceof Promise) {
        inFlight++
        out.then(send, () => {}).finally(() => { inFlight--; resume() })
      } else {
        send(out)
      }
    }
    if (blocked()) sock.pause()
    else if (sock.isPaused()) sock.resume()
  }

  const resume = (): void => { if (!sock.destroyed) pump() }

  sock.on('drain', () => {
    if (stall !== undefined) { clearTimeout(stall); stall = undefined }
    resume()
  })
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    if (buf.length > MAX_INPUT) { drop('tcp_overflow'); return }
    pump()
  })
}
