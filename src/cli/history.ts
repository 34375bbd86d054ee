// `driftgate history web`: every kept version of a service's spec, newest first.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { isDnsLabel, ValidationError } from '../core/index.js'
import { ApiClient, addClientOptions, formatTable, type ClientOptions } from './client.js'

export interface HistoryList {
  service: string
  current: number
  versions: Array<{ version: number, at: number, by: string, reason: string, image: string, replicas: number }>
}

export function renderHistory (h: HistoryList): string {
  return formatTable([['VERSION', 'WHEN', 'BY', 'REASON', 'IMAGE', 'REPLICAS'],
    ...h.versions.map((v) => [`${v.version}${v.version === h.current ? '*' : ''}`, new Date(v.at).toISOString().replace(/\.\d+Z$/, 'Z'),
      v.by, v.reason, v.image, String(v.replicas)])])
}

export function serviceArg (name: string): string {
  if (!isDnsLabel(name)) throw new ValidationError('arguments', [{ field: name, message: 'expected a service name such as web' }])
  return name
}

export function register (program: Command): void {
  const cmd = program.command('history')
    .description(descriptionOf('history'))
    .argument('<service>')
    .option('--json', 'print JSON')
  addClientOptions(cmd)
  cmd.addHelpText('after', `
Example:
  driftgate history web
  driftgate rollback web --to 3 --wait`)
  cmd.action(async (service: string, o: ClientOptions & { json?: boolean }) => {
    const h = await new ApiClient(o).get<HistoryList>(`/v1/services/${serviceArg(service)}/history`)
    process.stdout.write(o.json === true ? JSON.stringify(h, null, 2) + '\n' : renderHistory(h))
  })
}
