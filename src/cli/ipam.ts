// `driftgate ipam`: shared MacVLAN address pools, through the registry's HTTP API.
//   driftgate ipam pool add <name> --subnet … [--range …] [--gateway …] [--reserve …]
//   driftgate ipam pool ls
//   driftgate ipam pool rm <name>
//   driftgate ipam ls <pool>
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { DriftgateError, ErrorCodes, assertDnsLabel, type AllocationRecord, type PoolRecord } from '../core/index.js'

interface ApiOpts { api?: string, token?: string, json?: boolean }

function apiOptions (cmd: Command): Command {
  return cmd
    .option('--api <url>', 'registry HTTP API [env DRIFTGATE_API] (default http://127.0.0.1:7070)')
    .option('--token <token>', 'API token for writes [env DRIFTGATE_TOKEN]')
    .option('--json', 'print JSON instead of a table')
}

/** One API call; a non-2xx answer becomes a DriftgateError with the server's message. */
export async function apiCall (o: ApiOpts, method: string, path: string, body?: unknown): Promise<any> {
  const base = (o.api ?? process.env.DRIFTGATE_API ?? 'http://127.0.0.1:7070').replace(/\/+$/, '')
  const token = o.token ?? process.env.DRIFTGATE_TOKEN
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token != null && token !== '') headers.authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    throw new DriftgateError(ErrorCodes.NATS_UNAVAILABLE, `cannot reach the registry API at ${base}: ${(err as Error).message} (check --api / DRIFTGATE_API)`)
  }
  const text = await res.text()
  let data: any
  try { data = text === '' ? {} : JSON.parse(text) } catch { data = { error: { message: text } } }
  if (!res.ok) {
    const e = data?.error as { code?: string, message?: string } | undefined
    throw new DriftgateError((e?.code ?? ErrorCodes.IPAM) as typeof ErrorCodes.IPAM, `${method} ${path}: ${e?.message ?? `HTTP ${res.status}`}`)
  }
  return data
}

/** Left-aligned columns. */
export function table (rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n'
}

type PoolRow = PoolRecord & { usage: { size: number, reserved: number, bound: number, quarantined: number } }

export function poolsTable (pools: PoolRow[]): string {
  if (pools.length === 0) return 'no pools (add one with: driftgate ipam pool add <name> --subnet <cidr>)\n'
  return table([['NAME', 'SUBNET', 'RANGE', 'GATEWAY', 'RESERVED', 'SIZE', 'BOUND', 'HELD', 'QUARANTINED'],
    ...pools.map((p) => [p.name, p.subnet, `${p.start}-${p.end}`, p.gateway, String(p.reserved.length), String(p.usage.size),
      String(p.usage.bound), String(p.usage.reserved), String(p.usage.quarantined)])])
}

export function addressesTable (list: AllocationRecord[], now = Date.now()): string {
  if (list.length === 0) return 'no address in use\n'
  return table([['IP', 'STATE', 'HOST', 'MAC', 'CONTAINER', 'SINCE'],
    ...list.map((a) => [a.ip, a.state + (a.reason != null ? ` (${a.reason})` : ''), a.owner.host, a.owner.mac,
      a.owner.container?.slice(0, 12) ?? '-', `${Math.round((now - a.since) / 1000)}s ago`])])
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)]

export function register (program: Command): void {
  const ipam = program.command('ipam').description(descriptionOf('ipam'))
    .addHelpText('after', `
Examples:
  driftgate ipam pool add mv0 --subnet 10.0.8.0/22 --range 10.0.9.0-10.0.11.250 --token "$DRIFTGATE_TOKEN"
  driftgate ipam pool ls
  driftgate ipam ls mv0`)
  const pool = ipam.command('pool').description('manage address pools')
    .addHelpText('after', `
Examples:
  driftgate ipam pool add mv0 --subnet 10.0.8.0/22 --token "$DRIFTGATE_TOKEN"
  driftgate ipam pool ls --json
  driftgate ipam pool rm mv0 --token "$DRIFTGATE_TOKEN"`)

  apiOptions(pool.command('add <name>')
    .description('create a pool (writes need the API token)')
    .requiredOption('--subnet <cidr>', 'the MacVLAN subnet, e.g. 10.240.1.0/24')
    .option('--range <range>', 'allocatable addresses: a CIDR or first-last (default: the whole subnet)')
    .option('--gateway <ip>', 'gateway address (default: first address of the subnet)')
    .option('--reserve <ip>', 'never hand out this address (repeat, or comma separated)', collect)
    .option('--block-size <n>', 'block layout: allocations are stored and written in blocks of n addresses (16, 32, 64, 128 or 256; several at once per write: for >1,000 allocations/s)', Number)
    .addHelpText('after', `
Example:
  driftgate ipam pool add mv0 --subnet 10.240.1.0/24 --range 10.240.1.100-10.240.1.250 --reserve 10.240.1.254
  # then on every Docker host:
  docker network create -d macvlan --ipam-driver driftgate --subnet 10.240.1.0/24 -o parent=eth0 mv0`))
    .action(async (name: string, o: ApiOpts & { subnet: string, range?: string, gateway?: string, reserve?: string[], blockSize?: number }) => {
      assertDnsLabel('pool name', name)
      const body = { subnet: o.subnet, range: o.range, gateway: o.gateway, reserve: o.reserve, blockSize: o.blockSize }
      const res = await apiCall(o, 'PUT', `/v1/ipam/pools/${name}`, JSON.parse(JSON.stringify(body)))
      const p = res.pool as PoolRecord
      process.stdout.write(o.json === true ? JSON.stringify(res, null, 2) + '\n'
        : `pool ${p.name} ${res.created === true ? 'created' : 'already exists (same configuration)'}: ${p.subnet}, range ${p.start}-${p.end}, gateway ${p.gateway}\n`)
    })

  apiOptions(pool.command('ls').description('list pools and their usage')
    .addHelpText('after', '\nExample:\n  driftgate ipam pool ls --api http://10.0.0.5:7070'))
    .action(async (o: ApiOpts) => {
      const res = await apiCall(o, 'GET', '/v1/ipam/pools')
      process.stdout.write(o.json === true ? JSON.stringify(res, null, 2) + '\n' : poolsTable(res.pools as PoolRow[]))
    })

  apiOptions(pool.command('rm <name>').description('delete a pool that holds no address')
    .addHelpText('after', '\nExample:\n  driftgate ipam pool rm mv0 --token "$DRIFTGATE_TOKEN"'))
    .action(async (name: string, o: ApiOpts) => {
      assertDnsLabel('pool name', name)
      await apiCall(o, 'DELETE', `/v1/ipam/pools/${name}`)
      process.stdout.write(`pool ${name} deleted\n`)
    })

  apiOptions(ipam.command('ls <pool>').description('who holds which address of a pool')
    .addHelpText('after', '\nExample:\n  driftgate ipam ls mv0 --json'))
    .action(async (name: string, o: ApiOpts) => {
      assertDnsLabel('pool name', name)
      const res = await apiCall(o, 'GET', `/v1/ipam/pools/${name}/addresses`)
      process.stdout.write(o.json === true ? JSON.stringify(res, null, 2) + '\n' : addressesTable(res.addresses as AllocationRecord[]))
    })
}
