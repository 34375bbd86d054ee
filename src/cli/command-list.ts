// How to load each subcommand's file, by name. main.ts registers only the
// command it runs (program-lazy.ts; the others as name and description, for
// --help): a registry process then does not load the agent, the renderer,
// the lab or their packages (issue 20, memory by size).
import type { Command } from 'commander'
import { commandInfo, type CommandInfo } from './command-names.js'

export type Register = (program: Command) => void

export interface CommandEntry extends CommandInfo {
  load: () => Promise<Register>
}

const loaders: Record<string, () => Promise<Register>> = {
  up: async () => (await import('./up.js')).register,
  demo: async () => (await import('./demo.js')).register,
  agent: async () => (await import('./agent.js')).register,
  registry: async () => (await import('./registry.js')).register,
  renderer: async () => (await import('./renderer.js')).register,
  ipam: async () => (await import('./ipam.js')).register,
  apply: async () => (await import('./apply.js')).register,
  scale: async () => (await import('./scale.js')).register,
  status: async () => (await import('./status.js')).register,
  ps: async () => (await import('./ps.js')).register,
  history: async () => (await import('./history.js')).register,
  rollback: async () => (await import('./rollback.js')).register,
  logs: async () => (await import('./logs.js')).register,
  rm: async () => (await import('./rm.js')).register,
}

// Help lists them in command-names.ts's order.
export const commandList: readonly CommandEntry[] = commandInfo.map((c) => {
  const load = loaders[c.name]
  if (load === undefined) throw new Error(`no loader for command ${c.name}`)
  return { ...c, load }
})

/**
 * The command that argv runs: the first word that is not an option
 * (`driftgate` takes no options of its own before the command but -h/-V),
 * or the one after `help`. undefined: none (bare `driftgate`, --help, -V).
 */
export function commandOf (args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'))
  return words[0] === 'help' ? words[1] : words[0]
}
