// How a test or bench starts the driftgate CLI as a child process: the built
// CLI when `npm run build` made one (it starts faster), else the source
// through tsx (always current). One place, so every spawner agrees.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../paths.js'

/** Node arguments that run the CLI: `[dist/src/cli/main.js]` or `[--import=<tsx>, src/cli/main.ts]`. */
export function cliArgs (opts: { source?: boolean } = {}): string[] {
  const root = projectRoot()
  const built = join(root, 'dist/src/cli/main.js')
  if (opts.source !== true && existsSync(built)) return [built]
  return [`--import=${import.meta.resolve('tsx')}`, join(root, 'src/cli/main.ts')]
}
