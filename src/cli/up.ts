// `driftgate up`: everything on one Docker host, in one command, until Ctrl-C.
// The work is in src/up/.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { loadConfig } from '../core/index.js'
import { collect, explicitFlags, int } from './common.js'

export function register (program: Command): void {
  const cmd = program.command('up')
    .description(descriptionOf('up'))
    .option('--config <file>', 'YAML file of options (flags and DRIFTGATE_* env override it)')
    .option('--data <dir>', 'JetStream store, nginx prefix, logs and API token (default ./.driftgate)')
    .option('--nats <urls>', 'use this NATS (JetStream) instead of starting nats-server [env DRIFTGATE_NATS]')
    .option('--nats-port <port>', 'port of the embedded nats-server (default 4222)', int)
    .option('--docker <socket|url>', 'Docker socket path or tcp://host:port (default /var/run/docker.sock)')
    .option('--host-id <id>', 'this host\'s id, a DNS label (default: the host name made into one)')
    .option('--network <name>', 'MacVLAN network whose IP to publish when a container has no driftgate.network label')
    .option('--ipam-driver-name <name>', 'serve the Docker IPAM driver as /run/docker/plugins/<name>.sock (default driftgate)')
    .option('--no-ipam-driver', 'do not serve the Docker IPAM driver (then root is not needed)')
    .option('--no-agent', 'no agent: control plane, renderer and nginx only')
    .option('--port <port>', 'nginx listen port (default 8080)', int)
    .option('--http-port <port>', 'registry HTTP API port (default 7070)', int)
    .option('--dns-port <port>', 'registry DNS port (default 8600)', int)
    .option('--bind <ip>', 'address nginx, the API, DNS and nats-server listen on (default 127.0.0.1)')
    .option('--api-token <token>', 'write token of the API (default: generated once into <data>/api-token) [env DRIFTGATE_API_TOKEN]')
    .option('--host-grace <duration>', 'a silent host is down after this long (default 30s)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (default info); logs go to <data>/logs/')
    .option('--no-shim', 'no MacVLAN shim: this host cannot reach its own containers (nor give them the DNS stub)')
    .option('--shim-address <network=ip>', 'shim address on a MacVLAN network not using driftgate IPAM (repeatable)', collect)
    .option('--dns-forward <ip[:port]>', 'resolver for the containers\' outside names (default /etc/resolv.conf; repeatable)', collect)
    .option('--resync-interval <duration>', 'agent snapshot and shim check every (default 30s)')
    .addHelpText('after', `
Stops everything it started on Ctrl-C (SIGINT) or SIGTERM. Needs root for the
IPAM driver socket (or --no-ipam-driver), and nginx and nats-server installed
(bash scripts/install-deps.sh).

Examples:
  driftgate up
  driftgate up --network mv0 --port 80 --bind 0.0.0.0
  driftgate up --nats nats://10.0.0.5:4222 --docker /run/docker.sock --no-ipam-driver`)
  cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    // Signals are caught before anything starts, so a Ctrl-C during start-up still stops every child.
    let stop: (sig: string) => void = () => {}
    const stopped = new Promise<string>((resolve) => { stop = resolve })
    let signals = 0
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++
      if (signals === 2) process.stderr.write('\nstill stopping; Ctrl-C once more to abandon (children may be left running)\n')
      if (signals >= 3) {
        // Give up: the signal's default action ends the process (main.ts alone calls process.exit).
        process.removeListener('SIGINT', onSignal)
        process.removeListener('SIGTERM', onSignal)
        process.kill(process.pid, sig)
      }
      stop(sig)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    const { startUp, resolveUpOptions, upSchema } = await import('../up/index.js')
    const file = loadConfig<import('../up/index.js').UpFileConfig>({ role: 'up', schema: upSchema, flags: explicitFlags(self), file: opts.config as string | undefined })
    const say = (line: string): void => { process.stdout.write(`  ${line}\n`) }
    const up = await startUp(resolveUpOptions(file), { say })
    process.once('exit', () => up.killChildren())
    process.stdout.write('\n' + up.summary())
    const sig = await stopped
    process.stdout.write(`\n${sig}: stopping\n`)
    await up.close()
    process.stdout.write('stopped; nothing left running\n')
  })
}
