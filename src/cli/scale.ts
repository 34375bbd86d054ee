// `driftgate scale web=5 [--wait] [--timeout 120s]`: PATCH the replica count;
// with --wait, show running/healthy replicas until they match or time runs out.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { DriftgateError, ErrorCodes, TimeoutError, ValidationError, isDnsLabel, parseDuration } from '../core/index.js'
import { ApiClient, addClientOptions, type ClientOptions } from './client.js'

/** `web=5` sets the count; `web=2..10` sets the autoscale range of an autoscaled service. */
export interface Target { service: string, replicas: number, range?: { min: number, max: number } }

export function parseTargets (args: string[]): Target[] {
  if (args.length === 0) throw new ValidationError('arguments', [{ field: 'service=replicas', message: 'give at least one, e.g. web=5 (or web=2..10 for an autoscaled service)' }])
  return args.map((arg) => {
    const m = /^([^=]+)=(\d{1,4})(?:\.\.(\d{1,4}))?$/.exec(arg)
    if (m === null || !isDnsLabel(m[1])) {
      throw new ValidationError('arguments', [{ field: arg, message: 'expected <service>=<replicas>, e.g. web=5, or <service>=<min>..<max> for an autoscaled service' }])
    }
    if (m[3] === undefined) return { service: m[1], replicas: Number(m[2]) }
    const [min, max] = [Number(m[2]), Number(m[3])]
    if (min < 1 || min > max) throw new ValidationError('arguments', [{ field: arg, message: 'an autoscale range needs 1 ≤ min ≤ max, e.g. web=2..10' }])
    return { service: m[1], replicas: min, range: { min, max } }
  })
}

interface Endpoint { state: string, health: string }
export interface Progress { desired: number, running: number, healthy: number, draining: number, unschedulable?: string }

export function progressOf (desired: number, endpoints: Endpoint[], unschedulable?: string): Progress {
  const running = endpoints.filter((e) => e.state === 'running')
  return {
    desired,
    running: running.length,
    healthy: running.filter((e) => e.health === 'healthy' || e.health === 'none').length,
    draining: endpoints.filter((e) => e.state === 'draining').length,
    unschedulable,
  }
}

export function isDone (p: Progress): boolean {
  return p.running === p.desired && p.healthy === p.desired && p.draining === 0
}

export function progressLine (service: string, p: Progress): string {
  let s = `${service}: ${p.running}/${p.desired} running, ${p.healthy}/${p.desired} healthy`
  if (p.draining > 0) s += `, ${p.draining} draining`
  if (p.unschedulable !== undefined) s += `; ${p.unschedulable}`
  return s
}

interface Placement { unschedulable: Array<{ service: string, replica: number, reason: string }> }

async function progress (client: ApiClient, t: Target): Promise<Progress> {
  let endpoints: Endpoint[] = []
  try {
    endpoints = (await client.get<{ endpoints: Endpoint[] }>(`/v1/services/${t.service}/endpoints?all=true`)).endpoints
  } catch (err) {
    if (!(err instanceof DriftgateError && err.code === ErrorCodes.NOT_FOUND)) throw err // none yet
  }
  const un = (await client.get<Placement>('/v1/placement')).unschedulable.filter((u) => u.service === t.service)
  return progressOf(t.replicas, endpoints, un.length > 0 ? `${un.length} unschedulable: ${un[0].reason}` : undefined)
}

export interface ScaleOptions {
  wait: boolean
  timeoutMs: number
  intervalMs?: number
  out: (s: string) => void
  /** Rewrite one line in place (a terminal) instead of printing each change. */
  tty?: boolean
}

export async function scaleServices (client: ApiClient, targets: Target[], o: ScaleOptions): Promise<void> {
  for (const t of targets) {
    // A range patches the autoscale block; the registry moves the count into it and says where it landed.
    const body = t.range !== undefined ? { autoscale: t.range } : { replicas: t.replicas }
    const r = await client.patch<{ version: number, changed: boolean, replicas: number }>(`/v1/services/${t.service}`, body)
    if (t.range !== undefined) t.replicas = r.replicas
    const what = t.range !== undefined ? `autoscale ${t.range.min}..${t.range.max}, now ${r.replicas}` : `${t.replicas}`
    o.out(`${t.service}: ${what} replica${r.replicas === 1 ? '' : 's'} (version ${r.version}${r.changed ? '' : ', unchanged'})\n`)
  }
  if (!o.wait) return
  const started = Date.now()
  for (const t of targets) {
    let last = ''
    for (;;) {
      const p = await progress(client, t)
      const line = progressLine(t.service, p)
      if (line !== last) { o.out(o.tty === true ? `\r\x1b[K${line}` : `${line}\n`); last = line }
      if (isDone(p)) break
      if (Date.now() - started > o.timeoutMs) {
        if (o.tty === true) o.out('\n')
        throw new TimeoutError(`waiting for ${t.service}=${t.replicas} (${line}; see driftgate status)`, o.timeoutMs)
      }
      await new Promise((resolve) => setTimeout(resolve, o.intervalMs ?? 1000))
    }
    if (o.tty === true) o.out('\n')
  }
}

export function register (program: Command): void {
  const cmd = program.command('scale')
    .description(descriptionOf('scale'))
    .argument('<service=replicas...>', 'e.g. web=5, or web=2..10 for an autoscaled service')
    .option('--wait', 'show progress until every replica runs and is healthy')
    .option('--timeout <duration>', 'give up waiting after', '120s')
  addClientOptions(cmd)
  cmd.addHelpText('after', `
Example:
  driftgate scale web=5 --wait --timeout 2m
  driftgate scale web=2 api=4 --token "$DRIFTGATE_TOKEN"
  driftgate scale web=2..10        # autoscaled: set autoscale.min/max (web=5 is refused)`)
  cmd.action(async (args: string[], o: ClientOptions & { wait?: boolean, timeout: string }) => {
    let timeoutMs: number
    try { timeoutMs = parseDuration(o.timeout) } catch (err) {
      throw new ValidationError('option', [{ field: '--timeout', message: (err as Error).message }])
    }
    await scaleServices(new ApiClient(o), parseTargets(args), {
      wait: o.wait === true, timeoutMs, out: (s) => process.stdout.write(s), tty: process.stdout.isTTY,
    })
  })
}
