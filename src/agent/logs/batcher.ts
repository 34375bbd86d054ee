// Groups one container's lines into batches: one batch per ~100 ms or
// ~64 KiB, whichever comes first. Pure apart from its timer.
import { lineBytes, type LogLine } from './record.js'

export interface BatcherOptions {
  maxDelayMs: number
  maxBytes: number
  flush: (lines: LogLine[], bytes: number) => void
}

export class Batcher {
  private lines: LogLine[] = []
  private bytes = 0
  private timer?: NodeJS.Timeout

  constructor (private readonly o: BatcherOptions) {}

  push (line: LogLine): void {
    this.lines.push(line)
    this.bytes += lineBytes(line)
    if (this.bytes >= this.o.maxBytes) { this.flush(); return }
    // The first line of a batch starts the clock: no line waits longer than maxDelayMs.
    this.timer ??= setTimeout(() => { this.timer = undefined; this.flush() }, this.o.maxDelayMs)
  }

  flush (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    if (this.lines.length === 0) return
    const lines = this.lines
    const bytes = this.bytes
    this.lines = []
    this.bytes = 0
    this.o.flush(lines, bytes)
  }

  close (): void { this.flush() }
}
