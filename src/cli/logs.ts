// `driftgate logs web`: every replica's output on every host, merged by
// timestamp and prefixed `web.2@h1 | ` as `docker service logs` does; `-f`
// follows until Ctrl-C.
import { Option, type Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { assertDnsLabel, formatEntry, ValidationError, type LogEntry } from '../core/index.js'
import { readLogs, type LogsRequest } from '../client/index.js'
import { ApiClient, addClientOptions, type ClientOptions } from './client.js'

interface LogsFlags extends ClientOptions {
  follow?: boolean
  since?: string
  tail?: string
  host?: string
  replica?: string
  stderr?: boolean
  json?: boolean
}

function intFlag (name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  if (!/^\d{1,6}$/.test(v)) throw new ValidationError('flags', [{ field: name, message: `${JSON.stringify(v)} is not a whole number` }])
  return Number(v)
}

export function logsRequest (o: LogsFlags): LogsRequest {
  if (o.host !== undefined) assertDnsLabel('--host', o.host)
  return {
    since: o.since, tail: intFlag('--tail', o.tail), host: o.host, replica: intFlag('--replica', o.replica),
    stream: o.stderr === true ? 'stderr' : undefined, follow: o.follow === true,
  }
}

/** One line as printed: the prefix padded so the `|` columns line up while they can. */
export function printer (out: (s: string) => void, json: boolean): (e: LogEntry) => void {
  let width = 0
  return (e) => {
    if (json) { out(JSON.stringify(e) + '\n'); return }
    const line = formatEntry(e, width)
    width = Math.max(width, line.indexOf(' | '))
    out(line + '\n')
  }
}

export function register (program: Command): void {
  const cmd = program.command('logs')
    .description(descriptionOf('logs'))
    .argument('<service>', 'service name')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--since <when>', 'lines since a duration ago (10m) or an RFC3339 time')
    .option('--tail <n>', 'only the last n lines of the history')
    .option('--host <id>', 'only replicas on this host')
    .option('--replica <n>', 'only this replica number')
    .option('--stderr', 'only stderr')
    .addOption(new Option('--json', 'one JSON object per line: t, stream, service, replica, host, container, line'))
  addClientOptions(cmd)
  cmd.addHelpText('after', `
Examples:
  driftgate logs web --since 10m
  driftgate logs web -f --tail 100 --host h1`)
  cmd.action(async (service: string, o: LogsFlags) => {
    assertDnsLabel('service name', service)
    const q = logsRequest(o)
    const ac = new AbortController()
    const stop = (): void => { ac.abort() }
    process.once('SIGINT', stop)
    try {
      await readLogs(new ApiClient(o), service, q, printer((s) => process.stdout.write(s), o.json === true), ac.signal)
    } finally {
      process.off('SIGINT', stop)
    }
  })
}
