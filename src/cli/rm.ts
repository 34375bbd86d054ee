// `driftgate rm web`: delete services; their replicas drain and stop.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { assertDnsLabel } from '../core/index.js'
import { ApiClient, addClientOptions, type ClientOptions } from './client.js'

export async function removeServices (client: ApiClient, names: string[], out: (s: string) => void): Promise<void> {
  for (const n of names) assertDnsLabel('service name', n)
  for (const name of names) {
    await client.delete(`/v1/services/${name}`)
    out(`${name}: deleted (its replicas drain from nginx, then stop)\n`)
  }
}

export function register (program: Command): void {
  const cmd = program.command('rm')
    .description(descriptionOf('rm'))
    .argument('<service...>', 'service names')
  addClientOptions(cmd)
  cmd.addHelpText('after', `
Example:
  driftgate rm web --token "$DRIFTGATE_TOKEN"`)
  cmd.action(async (names: string[], o: ClientOptions) => {
    await removeServices(new ApiClient(o), names, (s) => process.stdout.write(s))
  })
}
