// Options and lifecycle shared by every role command.
import { Option, type Command } from 'commander'
import { commonRoleProperties, type CommonRoleConfig } from '../core/index.js'
import { DEFAULT_NATS, natsOptionsFrom } from '../bus/index.js'

// Re-exported for the command files; the roles import them from core and bus.
export { commonRoleProperties, DEFAULT_NATS, natsOptionsFrom, type CommonRoleConfig }

/** Commander parser for numeric options (validated later by the role's schema). */
export const int = (v: string): number => Number(v)

export function addCommonRoleOptions (cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML file of options (flags and DRIFTGATE_* env override it)')
    .addOption(new Option('--nats <urls>', 'NATS server URL(s), comma separated [env DRIFTGATE_NATS]'))
    .option('--nats-user <user>', 'NATS user [env DRIFTGATE_NATS_USER]')
    .option('--nats-pass <pass>', 'NATS password (visible in ps: prefer --nats-pass-file) [env DRIFTGATE_NATS_PASS]')
    .option('--nats-pass-file <file>', 'file holding the NATS password [env DRIFTGATE_NATS_PASS_FILE]')
    .option('--nats-token <token>', 'NATS token [env DRIFTGATE_NATS_TOKEN]')
    .option('--nats-creds <file>', 'NATS credentials file [env DRIFTGATE_NATS_CREDS]')
    .option('--nats-tls-ca <file>', 'CA certificate for NATS TLS')
    .option('--nats-tls-cert <file>', 'client certificate for NATS TLS')
    .option('--nats-tls-key <file>', 'client key for NATS TLS')
    .option('--prefix <prefix>', 'subject prefix (default driftgate)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (default info)')
    .option('--metrics-port <port>', 'serve Prometheus /metrics on this port', int)
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
