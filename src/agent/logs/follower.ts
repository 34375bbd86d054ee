// Follows one container's output: reads its cursor (memory, else the
// stream's last message for its subject), asks Docker for lines since then
// with timestamps, demultiplexes stdout/stderr, skips what the stream has,
// rate-limits, batches and hands batches to the shipper. Ends when Docker
// ends the stream (container stopped) or on stop().
import type Dockerode from 'dockerode'
import type { Logger } from '../../core/index.js'
import { Batcher } from './batcher.js'
import { LogDemuxer } from './demux.js'
import { resumeFilter, type Cursor } from './cursor.js'
import { LineRateLimit } from './rate-limit.js'
import { parseDockerLine, sinceParam, type LogLine } from './record.js'
import type { Channel, Shipper } from './shipper.js'

export interface FollowerOptions {
  docker: Dockerode
  shipper: Shipper
  channel: Channel
  /** The stream's cursor for this subject (read once when the channel is new). */
  readCursor: () => Promise<Cursor | undefined>
  log: Logger
  batch: { maxDelayMs: number, maxBytes: number }
  rate: { perSecond: number, burst: number }
  tty: boolean
}

type Readable = NodeJS.ReadableStream & { destroy?: () => void }

export class Follower {
  private stream?: Readable
  private stopped = false
  readonly done: Promise<void>
  private finish!: () => void

  constructor (private readonly id: string, private readonly o: FollowerOptions) {
    this.done = new Promise((resolve) => { this.finish = resolve })
  }

  async start (): Promise<void> {
    const c = this.o.channel
    const cursor = c.cursor ?? await this.o.readCursor()
    if (this.stopped) { this.finish(); return }
    const keep = resumeFilter(cursor)
    const limit = new LineRateLimit(this.o.rate.perSecond, this.o.rate.burst)
    let limited = 0
    const batcher = new Batcher({ ...this.o.batch, flush: (lines, bytes) => { this.o.shipper.offer(c, lines, bytes) } })
    const onLine = (s: 'out' | 'err', raw: string): void => {
      const p = parseDockerLine(raw)
      if (p == null) return
      const line: LogLine = { t: p.t, s, m: p.m }
      if (!keep(line)) return
      if (!limit.take()) { limited++; return }
      if (limited > 0) { this.o.shipper.noteDropped(c, limited, 'rate'); limited = 0 }
      batcher.push(line)
    }
    const stream = await this.o.docker.getContainer(this.id).logs({
      follow: true, stdout: true, stderr: true, timestamps: true,
      ...(cursor !== undefined ? { since: sinceParam(cursor.t) as unknown as number } : {}),
    }) as unknown as Readable
    this.stream = stream
    const demux = new LogDemuxer(onLine, this.o.tty)
    stream.on('data', (chunk: Buffer) => { demux.push(chunk) })
    let ended = false
    const end = (): void => {
      if (ended) return
      ended = true
      demux.end()
      if (limited > 0) { this.o.shipper.noteDropped(c, limited, 'rate'); limited = 0 }
      batcher.close()
      this.finish()
    }
    stream.on('end', end)
    stream.on('close', end)
    stream.on('error', (e: Error) => { this.o.log.warn({ container: c.head.container, err: e.message }, 'logs: follow stream failed'); end() })
    if (this.stopped) stream.destroy?.()
  }

  stop (): void {
    this.stopped = true
    this.stream?.destroy?.()
  }
}
