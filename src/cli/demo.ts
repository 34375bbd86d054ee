// `driftgate demo`: a local 3-host lab with the whole control plane and a
// demo service; `demo down` removes it. The work is in src/demo/.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { relative } from 'node:path'
import { int } from './common.js'
import { which } from '../up/index.js'

const DIR = '/tmp/driftgate-demo'
const say = (line: string): void => { process.stdout.write(`${line}\n`) }

/** How the user can call this driftgate: `driftgate` when on PATH, else node + the entry script. */
function cliName (): string {
  if (which('driftgate') !== undefined) return 'driftgate'
  const script = relative(process.cwd(), process.argv[1])
  return ['node', ...process.execArgv, script.startsWith('..') ? process.argv[1] : script].join(' ')
}

export function register (program: Command): void {
  const demo = program.command('demo')
    .description(descriptionOf('demo'))
    .option('--dir <dir>', 'state, logs and data of the demo', DIR)
    .option('--port <port>', 'nginx port', int, 8080)
    .option('--http-port <port>', 'registry API port', int, 7070)
    .option('--dns-port <port>', 'registry DNS port', int, 8600)
    .option('--nats-port <port>', 'nats-server port', int, 4222)
    .option('--timeout <seconds>', 'give up waiting for the 3 replicas after', int, 180)
    .addHelpText('after', `
Needs root and the Debian packages of scripts/install-deps.sh. Everything
keeps running in the background after the command returns, until
\`driftgate demo down\`.

Examples:
  driftgate demo
  curl -H 'Host: web' http://127.0.0.1:8080/
  driftgate demo stop-host h2
  driftgate demo down`)
    .action(async (o: { dir: string, port: number, httpPort: number, dnsPort: number, natsPort: number, timeout: number }) => {
      const { runDemo, tryThis } = await import('../demo/index.js')
      // Everything is detached and recorded: an interrupted demo is removed by `demo down`.
      // The hint, then the signal's default action (only main.ts calls process.exit).
      const onSignal = (sig: NodeJS.Signals): void => {
        process.stderr.write(`\ninterrupted: remove what was built with: driftgate demo down${o.dir !== DIR ? ` --dir ${o.dir}` : ''}\n`)
        process.kill(process.pid, sig)
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      const s = await runDemo({ dir: o.dir, ports: { nginx: o.port, http: o.httpPort, dns: o.dnsPort, nats: o.natsPort }, say, timeoutMs: o.timeout * 1000 })
      const cli = cliName()
      say(tryThis(s, cli === 'driftgate' ? cli : 'driftgate'))
      if (cli !== 'driftgate') say(`(driftgate is not on your PATH: run \`npm link\` once in the checkout, or: alias driftgate='${cli}')`)
    })

  // `demo down --dir x`: commander hands --dir to the parent `demo`, which knows it too.
  const dirOf = (o: { dir?: string }): string => o.dir ?? (demo.opts().dir as string | undefined) ?? DIR

  demo.command('down')
    .description('stop and remove everything the demo made: processes, namespaces, links, dockerds, files')
    .option('--dir <dir>', `the demo's dir (default ${DIR})`)
    .addHelpText('after', '\nExample:\n  driftgate demo down')
    .action(async (o: { dir?: string }) => {
      const { demoDown } = await import('../demo/index.js')
      const t0 = Date.now()
      await demoDown(dirOf(o), say)
      say(`demo removed in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    })

  demo.command('stop-host <host>')
    .description('stop one lab host (its dockerd and agent) and watch its replicas move')
    .option('--dir <dir>', `the demo's dir (default ${DIR})`)
    .addHelpText('after', '\nExample:\n  driftgate demo stop-host h2 && watch driftgate status')
    .action(async (host: string, o: { dir?: string }) => {
      const { stopHost } = await import('../demo/index.js')
      await stopHost(dirOf(o), host, say)
    })

  demo.command('start-host <host>')
    .description('start a lab host stopped with stop-host again')
    .option('--dir <dir>', `the demo's dir (default ${DIR})`)
    .addHelpText('after', '\nExample:\n  driftgate demo start-host h2')
    .action(async (host: string, o: { dir?: string }) => {
      const { startHost } = await import('../demo/index.js')
      await startHost(dirOf(o), host, say)
    })
}
