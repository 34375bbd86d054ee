// `driftgate ps web`: each replica with host, container, IP, state, health,
// since and spec version, like `docker service ps`.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { ApiClient, addClientOptions, formatTable, type ClientOptions } from './client.js'
import { serviceArg } from './history.js'

export interface PsAnswer {
  service: string
  version: number
  desired: number
  replicas: Array<{ replica: number | null, host: string, container: string, ip: string, state: string, health: string, since: number, specVersion: number | null }>
}

function ago (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`
}

export function renderPs (p: PsAnswer, now = Date.now()): string {
  const head = `${p.service}: version ${p.version}, ${p.desired} desired, ${p.replicas.length} container${p.replicas.length === 1 ? '' : 's'}\n`
  if (p.replicas.length === 0) return head
  return head + formatTable([['REPLICA', 'HOST', 'CONTAINER', 'IP', 'STATE', 'HEALTH', 'SINCE', 'VERSION'],
    ...p.replicas.map((r) => [r.replica === null ? '-' : String(r.replica), r.host, r.container, r.ip, r.state, r.health,
      `${ago(now - r.since)} ago`, r.specVersion === null ? '?' : `${r.specVersion}${r.specVersion === p.version ? '' : ' (old)'}`])])
}

export function register (program: Command): void {
  const cmd = program.command('ps')
    .description(descriptionOf('ps'))
    .argument('<service>')
    .option('--json', 'print JSON')
  addClientOptions(cmd)
  cmd.action(async (service: string, o: ClientOptions & { json?: boolean }) => {
    const p = await new ApiClient(o).get<PsAnswer>(`/v1/services/${serviceArg(service)}/ps`)
    process.stdout.write(o.json === true ? JSON.stringify(p, null, 2) + '\n' : renderPs(p))
  })
}
