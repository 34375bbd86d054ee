// `driftgate rollback web [--to 3] [--wait]`: the old spec becomes a new
// version and rolls out like any update (drain first). --wait follows the
// rollout on the activity feed (blocking queries) until every replica runs
// the new version and is healthy.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { TimeoutError, parseDuration } from '../core/index.js'
import { ApiClient, addClientOptions, type ClientOptions } from './client.js'
import { serviceArg } from './history.js'
import type { PsAnswer } from './ps.js'

interface RollbackAnswer { service: string, version: number, changed: boolean, from: number, to: number, replicas: number }

export function rolloutLine (p: PsAnswer): { line: string, done: boolean } {
  const current = p.replicas.filter((r) => r.specVersion === p.version)
  const ready = current.filter((r) => r.state === 'running' && (r.health === 'healthy' || r.health === 'none'))
  const old = p.replicas.length - current.length
  const done = ready.length === p.desired && old === 0 && current.length === p.desired
  return { line: `${p.service}: ${ready.length}/${p.desired} on version ${p.version} and healthy${old > 0 ? `, ${old} old` : ''}`, done }
}

export async function followRollout (client: ApiClient, service: string, timeoutMs: number, out: (s: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let cursor: number | undefined = (await client.nextEvents(undefined, 1000, service).catch(() => undefined))?.next
  let last = ''
  for (;;) {
    const ps = await client.get<PsAnswer>(`/v1/services/${service}/ps`)
    const { line, done } = rolloutLine(ps)
    if (line !== last) { out(line + '\n'); last = line }
    if (done) return
    const left = deadline - Date.now()
    if (left <= 0) throw new TimeoutError(`rollout of ${service}`, timeoutMs)
    cursor = (await client.nextEvents(cursor, Math.min(left, 30_000), service)).next
  }
}

export function register (program: Command): void {
  const cmd = program.command('rollback')
    .description(descriptionOf('rollback'))
    .argument('<service>')
    .option('--to <version>', 'the version to go back to (see driftgate history)')
    .option('--wait', 'follow the rollout until every replica runs it and is healthy')
    .option('--timeout <duration>', 'with --wait, give up after this long', '300s')
  addClientOptions(cmd)
  cmd.action(async (service: string, o: ClientOptions & { to?: string, wait?: boolean, timeout: string }) => {
    const client = new ApiClient(o)
    const body = o.to === undefined ? {} : { to: Number(o.to) }
    const r = await client.post<RollbackAnswer>(`/v1/services/${serviceArg(service)}/rollback`, body)
    process.stdout.write(r.changed
      ? `${r.service}: version ${r.to} applied again as version ${r.version} (was ${r.from})\n`
      : `${r.service}: version ${r.to} is what runs already (version ${r.version}); nothing to do\n`)
    if (o.wait === true) await followRollout(client, r.service, parseDuration(o.timeout), (s) => process.stdout.write(s))
  })
}
