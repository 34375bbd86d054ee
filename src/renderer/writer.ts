// Writes rendered files into the --out folder: atomically (temp file, fsync,
// rename, fsync of the folder), only what changed, deleting the files of
// services that are gone. Keeps what is on disk in memory so that an unchanged
// render costs no I/O, and so that a rejected change can be rolled back.
import { open, readdir, readFile, rename, unlink, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { HEADER, isOwnedName } from './file-format.js'

/** What one apply() did, enough to undo it. */
export interface WriteChange {
  /** File name → previous content (undefined: the file did not exist). */
  previous: Map<string, string | undefined>
}

const WRITE_CONCURRENCY = 32

export function isEmptyChange (c: WriteChange): boolean { return c.previous.size === 0 }

async function fsyncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

export class ConfWriter {
  /** File name → content as on disk, for files this renderer owns. */
  readonly current = new Map<string, string>()

  constructor (readonly dir: string) {}

  /**
   * Learns which files in the folder are ours (first line is HEADER); other
   * files are never touched. Creates the folder when missing (unless `create` is false: dry-run).
   */
  async load ({ create = true } = {}): Promise<void> {
    if (create) await mkdir(this.dir, { recursive: true })
    this.current.clear()
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (!create && err.code === 'ENOENT') return [] as string[] // dry-run: nothing there yet
      throw err
    })
    for (const name of names) {
      if (!isOwnedName(name)) continue
      let text: string
      try { text = await readFile(join(this.dir, name), 'utf8') } catch { continue }
      if (text.startsWith(HEADER)) this.current.set(name, text)
    }
  }

  /** Which files differ from `desired` (owned files missing from it are deletions). */
  diff (desired: Map<string, string>): WriteChange {
    const previous = new Map<string, string | undefined>()
    for (const [name, text] of desired) {
      const cur = this.current.get(name)
      if (cur !== text) previous.set(name, cur)
    }
    for (const [name, text] of this.current) if (!desired.has(name)) previous.set(name, text)
    return { previous }
  }

  /** Brings the folder to `desired` for the names in `change`; returns the change for undo. */
  async apply (desired: Map<string, string>, change: WriteChange): Promise<void> {
    await this.each([...change.previous.keys()], async (name) => {
      const text = desired.get(name)
      if (text === undefined) await this.remove(name)
      else await this.write(name, text)
    })
    await fsyncDir(this.dir)
  }

  /** Puts back what apply() replaced. */
  async undo (change: WriteChange): Promise<void> {
    await this.each([...change.previous.entries()], async ([name, text]) => {
      if (text === undefined) await this.remove(name)
      else await this.write(name, text)
    })
    await fsyncDir(this.dir)
  }

  /** Runs `fn` over `items` with a few in flight: fsyncs of a full render overlap. */
  private async each<T> (items: T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < items.length) await fn(items[next++])
    }
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker))
  }

  async write (name: string, text: string): Promise<void> {
    // The temp name starts with a dot and does not end in .conf, so an
    // `include <out>/*.conf` never picks up a half-written file.
    const tmp = join(this.dir, `.${name}.${process.pid}.tmp`)
    const fh = await open(tmp, 'w', 0o644)
    try {
      await fh.writeFile(text, 'utf8')
      await fh.sync()
    } finally { await fh.close() }
    await rename(tmp, join(this.dir, name))
    this.current.set(name, text)
  }

  async remove (name: string): Promise<void> {
    try { await unlink(join(this.dir, name)) } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    this.current.delete(name)
  }
}
