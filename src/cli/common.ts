// Options and lifecycle shared by every role command.
import type { Command } from 'commander'
import { commonRoleProperties, type CommonRoleConfig, type RoleSchema } from '../core/index.js'
import { addSchemaOptions, tuningHelp } from './schema-options.js'
import { DEFAULT_NATS, natsOptionsFrom } from '../bus/index.js'

// Re-exported for the command files; the roles import them from core and bus.
export { commonRoleProperties, DEFAULT_NATS, natsOptionsFrom, type CommonRoleConfig }

/** Commander parser for numeric options (validated later by the role's schema). */
export const int = (v: string): number => Number(v)

/**
 * A role's options, all generated from its schema (defaults, help and env
 * names written once, there), plus --config. `skip`: options the command
 * declares itself.
 */
export function addRoleOptions (cmd: Command, schema: RoleSchema, skip: readonly string[] = []): Command {
  cmd.option('--config <file>', 'YAML file of options (flags and DRIFTGATE_* env override it)')
  addSchemaOptions(cmd, schema, skip)
  const tuning = tuningHelp(schema)
  if (tuning !== '') cmd.addHelpText('after', tuning)
  return cmd
}

export interface Closeable { close: () => Promise<void> }

/**
 * Runs a long-lived role until SIGINT/SIGTERM, then closes it. Resolves with
 * the exit code for main to use; a second signal forces exit code 130.
 */
export async function runUntilSignal (log: { info: (o: object, m: string) => void }, started: Closeable): Promise<number> {
  return await new Promise<number>((resolve) => {
    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) { resolve(130); return }
      stopping = true
      log.info({ signal }, 'stopping')
      started.close().then(() => resolve(0), () => resolve(1))
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/**
 * The options the user actually gave on the command line. Commander fills in
 * `true` for every `--no-x` option it was not given, which would otherwise
 * override the environment and the config file.
 */
export function explicitFlags (cmd: Command): Record<string, unknown> {
  const opts = cmd.opts()
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(opts)) {
    if (cmd.getOptionValueSource(key) === 'cli') out[key] = opts[key]
  }
  return out
}

/** Commander reducer for repeatable options: `--x a --x b` → ['a', 'b']. */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}
