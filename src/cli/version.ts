import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../paths.js'

// Re-exported for the tests that found it here first; src/ imports ../paths.js.
export { projectRoot }

export function version (): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version
}
