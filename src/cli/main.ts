#!/usr/bin/env node
// The only place that exits the process.
import { buildProgramFor } from './program-lazy.js'
import { DriftgateError } from '../core/index.js'

async function main (): Promise<void> {
  try {
    // only the command being run is loaded (its modules and packages)
    const program = await buildProgramFor(process.argv.slice(2))
    program.exitOverride()
    await program.parseAsync(process.argv)
  } catch (err) {
    const e = err as { code?: string, exitCode?: number }
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      process.exit(e.exitCode ?? 1)
    }
    if (err instanceof DriftgateError) {
      process.stderr.write(`driftgate: ${err.message}\n`)
      process.exit(2)
    }
    process.stderr.write(`driftgate: unexpected error: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  }
  process.exit(typeof process.exitCode === "number" ? process.exitCode : 0)
}

void main()
