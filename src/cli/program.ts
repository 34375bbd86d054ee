// Builds the whole `driftgate` command tree, every command loaded, so tests
// can parse arguments and inspect any command's options without exiting the
// process. main.ts loads only the command it runs (program-lazy.ts).
import type { Command } from 'commander'
import { baseProgram } from './program-lazy.js'
import { commands } from './commands.js'

export function buildProgram (): Command {
  const program = baseProgram()
  for (const register of commands) register(program)
  return program
}
