// The client commands' options (--api, --token) and table output; the API
// client itself is src/client (shared with the demo).
import { Option, type Command } from 'commander'
import { DEFAULT_API } from '../client/index.js'

export { ApiClient, DEFAULT_API, type ClientOptions } from '../client/index.js'

/** Adds --api and --token to a client command. */
export function addClientOptions (cmd: Command): Command {
  return cmd
    .addOption(new Option('--api <url>', `registry HTTP API [env DRIFTGATE_API] (default ${DEFAULT_API})`))
    .addOption(new Option('--token <token>', 'API token for writes [env DRIFTGATE_TOKEN]'))
}

/** Left-aligned columns, two spaces apart. */
export function formatTable (rows: string[][]): string {
  if (rows.length === 0) return ''
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n'
}
