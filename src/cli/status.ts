// `driftgate status`: services (desired/assigned/running/healthy), hosts
// (capacity and use), unschedulable replicas with the reason, unhealthy
// replicas with what placement does about them.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { ApiClient, addClientOptions, formatTable, type ClientOptions } from './client.js'
import { formatBytes, formatCpus, type AutoscaleView, type PlacementStatus } from '../placement/index.js'
import { renderSites, type SitesStatus } from './status-sites.js'

interface ServiceSummary { name: string, version: number | null, endpoints: { healthy: number, total: number } }

export function renderStatus (p: PlacementStatus, services: ServiceSummary[], now = Date.now()): string {
  const counts = new Map(services.map((s) => [s.name, s.endpoints]))
  let out = p.leader.holder !== null
    ? `placement leader: ${p.leader.holder}${p.leader.expiresAt !== null && p.leader.expiresAt < now ? ' (lease expired)' : ''}\n`
    : 'placement leader: none (is a registry running?)\n'
  if (p.failStatic) out += 'FAIL STATIC: more than half of the hosts are down; replicas are not being moved\n'
  out += '\n'
  out += p.services.length === 0
    ? 'no services (create one with: driftgate apply -f web.yaml)\n'
    : formatTable([['SERVICE', 'VERSION', 'DESIRED', 'ASSIGNED', 'RUNNING', 'HEALTHY', 'HOSTS'],
      ...p.services.map((s) => {
        const c = counts.get(s.name) ?? { healthy: 0, total: 0 }
        const hosts = Object.entries(s.hosts).sort().map(([h, n]) => `${h}:${n}`).join(' ')
        return [s.name, String(s.version), String(s.desired), String(s.assigned), String(c.total), String(c.healthy), hosts || '-']
      })])
  out += '\n'
  out += p.hosts.length === 0
    ? 'no hosts (start `driftgate agent` on each Docker host)\n'
    : formatTable([['HOST', 'STATUS', 'CPU USED/CAP', 'MEMORY USED/CAP', 'REPLICAS', 'LABELS'],
      ...p.hosts.map((h) => [h.host, h.status, `${formatCpus(h.used.cpus)}/${formatCpus(h.capacity.cpus)}`,
        `${formatBytes(h.used.memoryBytes)}/${formatBytes(h.capacity.memoryBytes)}`, String(h.replicas),
        Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-'])])
  if (p.autoscale !== undefined && p.autoscale.length > 0) out += '\n' + renderAutoscale(p.autoscale, now)
  if (p.unschedulable.length > 0) {
    // One line per service and reason: "web 3,4: needs 64Gi memory, ..."
    const groups = new Map<string, number[]>()
    for (const u of p.unschedulable) {
      const k = `${u.service}\u0000${u.reason}`
      groups.set(k, [...(groups.get(k) ?? []), u.replica])
    }
    out += '\n' + formatTable([['UNSCHEDULABLE', 'REPLICAS', 'REASON'],
      ...[...groups].map(([k, rs]) => { const [svc, reason] = k.split('\u0000'); return [svc, rs.join(','), reason] })])
  }
  if ((p.replacements ?? []).length > 0) {
    // Issue 19: unhealthy replicas and what placement does about them (backoff and cap with their reason).
    out += '\n' + formatTable([['UNHEALTHY', 'REPLICA', 'HOST', 'ACTION', 'REASON'],
      ...(p.replacements ?? []).map((d) => [d.service, String(d.replica), d.key.split('.')[0], d.verdict, d.reason])])
  }
  return out
}

const ago = (at: number, now: number): string => {
  const s = Math.max(0, Math.round((now - at) / 1000))
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}

/** One row per autoscaled service: replicas in its range, each metric against its target, the last decision and change. */
export function renderAutoscale (views: AutoscaleView[], now = Date.now()): string {
  const metric = (v: AutoscaleView, name: 'cpu' | 'requestsPerReplica'): string => {
    const target = v.targets[name]
    if (target === undefined) return '-'
    const m = v.metrics.find((x) => x.name === name)
    const cur = m === undefined || m.current === null ? '?' : String(m.current)
    return name === 'cpu' ? `${cur}%/${target}%` : `${cur}/${target}`
  }
  return formatTable([['AUTOSCALE', 'REPLICAS', 'RANGE', 'CPU/TARGET', 'REQ/S PER REPLICA/TARGET', 'LAST CHANGE', 'DECISION'],
    ...views.map((v) => [v.service, String(v.replicas), `${v.min}..${v.max}`, metric(v, 'cpu'), metric(v, 'requestsPerReplica'),
      v.lastChange !== null ? `${v.lastChange.from}→${v.lastChange.to} ${ago(v.lastChange.at, now)}` : '-',
      v.decision !== null ? `${v.decision.reason} (${ago(v.decision.at, now)})` : 'not evaluated yet'])])
}

export function register (program: Command): void {
  const cmd = program.command('status')
    .description(descriptionOf('status'))
    .option('--json', 'print the placement status as JSON')
    .option('--watch', 'redraw whenever something changes (blocking queries on the activity feed, not polling); Ctrl-C stops')
  addClientOptions(cmd)
  cmd.addHelpText('after', `
Example:
  driftgate status --api http://10.0.0.5:7070`)
  cmd.action(async (o: ClientOptions & { json?: boolean, watch?: boolean }) => {
    const client = new ApiClient(o)
    const draw = async (): Promise<string> => {
      const [placement, services, sites] = await Promise.all([
        client.get<PlacementStatus>('/v1/placement'),
        client.get<{ services: ServiceSummary[] }>('/v1/services'),
        client.get<SitesStatus>('/v1/sites'),
      ])
      return o.json === true
        ? JSON.stringify({ ...placement, endpoints: services.services, sites }, null, 2) + '\n'
        : renderStatus(placement, services.services) + '\n' + renderSites(sites)
    }
    if (o.watch !== true) { process.stdout.write(await draw()); return }
    await watch(client, draw, (s) => process.stdout.write(s))
  })
}

/** Draws, then parks on the activity feed and draws again after each change; `rounds` bounds it (tests). */
export async function watch (client: ApiClient, draw: () => Promise<string>, out: (s: string) => void, rounds = Infinity): Promise<void> {
  let cursor = (await client.nextEvents(undefined, 1000)).next
  let last = ''
  for (let i = 0; i < rounds; i++) {
    const text = await draw()
    if (text !== last) {
      // Clear the screen on a terminal; a pipe gets the frames one after another.
      out((process.stdout.isTTY ? '\x1b[H\x1b[2J' : '') + `${new Date().toISOString()}  (watching; Ctrl-C stops)\n\n` + text + '\n')
      last = text
    }
    cursor = (await client.nextEvents(cursor, 30_000)).next
  }
}
