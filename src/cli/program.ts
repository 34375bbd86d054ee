// Builds the `driftgate` command tree. Kept apart from main.ts so tests can
// parse arguments without exiting the process.
import { Command } from 'commander'
import { version } from './version.js'
import { commands } from './commands.js'

export function buildProgram (): Command {
  const program = new Command('driftgate')
    .description('Keep Nginx upstreams in step with MacVLAN containers whose IPs keep changing.')
    .version(version(), '-V, --version', 'print the driftgate version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
First run:
  driftgate demo      a local 3-host lab with a web service behind nginx (root)
  driftgate up        everything on this Docker host until Ctrl-C

Roles (long-running):
  driftgate agent     one per Docker host: container IPs to NATS
  driftgate registry  control plane: endpoint table, hosts, lookups
  driftgate renderer  one per Nginx: upstream files and graceful reloads

Examples:
  driftgate demo && curl -H 'Host: web' http://127.0.0.1:8080/
  driftgate registry --nats nats://127.0.0.1:4222
  driftgate agent --host-id h1 --docker /var/run/docker.sock
  driftgate <command> --help`)
  for (const register of commands) register(program)
  return program
}
