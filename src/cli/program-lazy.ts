// What main.ts runs: the `driftgate` program with only the command it runs
// loaded; every other command is its name and description, which is all
// `driftgate --help` shows of it. So a registry does not load the agent's,
// the renderer's or the lab's modules and packages (issue 20, memory by
// size). The whole tree, every command loaded, is program.ts (tests).
import { Command, Help } from 'commander'
import { version } from './version.js'
import { commandList, commandOf } from './command-list.js'

/** `args`: process.argv without node and the script. */
export async function buildProgramFor (args: readonly string[]): Promise<Command> {
  const program = baseProgram()
  const wanted = commandOf(args)
  const stubs = new Map<Command, string>()
  for (const entry of commandList) {
    if (entry.name === wanted) (await entry.load())(program)
    else stubs.set(program.command(entry.name).description(entry.description), `${entry.name} ${entry.usage}`.trim())
  }
  // a stub has no options or arguments: its line in --help is written out
  program.configureHelp({
    subcommandTerm (cmd: Command): string { return stubs.get(cmd) ?? Help.prototype.subcommandTerm.call(this, cmd) },
  })
  return program
}

/** The program itself: name, version and the help text around the command list. */
export function baseProgram (): Command {
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
  return program
}
