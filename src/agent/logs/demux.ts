// Docker's multiplexed log stream, parsed in place: frames of an 8-byte
// header (stream 1 = stdout, 2 = stderr; big-endian payload size) and the
// payload. With `timestamps` every frame is one line, so lines come straight
// out of the frames, with no intermediate streams (what dockerode's
// demuxStream costs per line was most of the agent's CPU in bench/logs).
// TTY containers have no frames: the whole stream is stdout.
import { StringDecoder } from 'node:string_decoder'

export type DemuxSink = (stream: 'out' | 'err', line: string) => void

export class LogDemuxer {
  private pending: Buffer = Buffer.alloc(0)
  private readonly tails = { out: '', err: '' }
  private readonly utf8 = new StringDecoder('utf8')

  constructor (private readonly sink: DemuxSink, private readonly tty = false) {}

  push (chunk: Buffer): void {
    if (this.tty) { this.text('out', this.utf8.write(chunk)); return } // a character may span chunks
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    let off = 0
    while (buf.length - off >= 8) {
      const size = buf.readUInt32BE(off + 4)
      if (buf.length - off - 8 < size) break
      const kind = buf[off] === 2 ? 'err' : 'out'
      this.text(kind, buf.toString('utf8', off + 8, off + 8 + size))
      off += 8 + size
    }
    buf = buf.subarray(off)
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0)
  }

  private text (kind: 'out' | 'err', s: string): void {
    const text = this.tails[kind] === '' ? s : this.tails[kind] + s
    let start = 0
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      this.sink(kind, text.slice(start, nl))
      start = nl + 1
    }
    this.tails[kind] = start < text.length ? text.slice(start) : ''
  }

  /** A last line without its newline, at the end of the stream. */
  end (): void {
    for (const kind of ['out', 'err'] as const) {
      if (this.tails[kind] !== '') { this.sink(kind, this.tails[kind]); this.tails[kind] = '' }
    }
  }
}
