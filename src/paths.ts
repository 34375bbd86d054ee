// Where driftgate's own files are: the package root (package.json, nginx/,
// templates/), found from this file so it works from src/ (TS loader) and
// dist/src/ alike. Used by the CLI, `up` and `demo`.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project root: the nearest folder above this file with driftgate's package.json. */
export function projectRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'driftgate') return dir
    dir = dirname(dir)
  }
  throw new Error('cannot find driftgate package.json above ' + fileURLToPath(import.meta.url))
}
