// The agent's Docker remote IPAM driver: `/run/docker/plugins/<name>.sock`.
// Every dockerd on a machine reads that folder, so each host of a testbed
// uses its own driver name. Also exports `bindByMac` for the agent's
// container watcher: bind an address once its container has started.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { NatsConnection } from 'nats'
import { Counter, Histogram, type Registry } from 'prom-client'
import { assertDnsLabel, componentLogger, type IpamReply, type Logger } from '../../core/index.js'
import { ipamClient, IPAM_DEADLINE_MS, type RetryHook } from './client.js'
import { IpamDriverLogic } from './driver.js'
import { listenPlugin } from './server.js'

export { ipamClient, IPAM_DEADLINE_MS, type IpamCall, type RetryHook } from './client.js'
export { IpamDriverLogic, GATEWAY_TYPE, MAC_OPTION } from './driver.js'
export { PLUGIN_CONTENT_TYPE } from './server.js'

export const DEFAULT_SOCKET_DIR = '/run/docker/plugins'

export interface IpamDriverOptions {
  nc: NatsConnection
  /** This host's id (owner of every address the driver allocates). */
  host: string
  /** Driver name: `docker network create --ipam-driver <name>`. */
  name: string
  socketDir?: string
  log: Logger
  metrics: Registry
  prefix?: string
  /** Whole-call deadline for registry requests (default 5 s). */
  deadlineMs?: number
}

export interface IpamDriver { socketPath: string, close: () => Promise<void> }

function metric<T> (reg: Registry, name: string, make: () => T): T {
  return (reg.getSingleMetric(name) as T | undefined) ?? make()
}

export async function startIpamDriver (o: IpamDriverOptions): Promise<IpamDriver> {
  assertDnsLabel('host id', o.host)
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(o.name)) throw new Error(`invalid ipam driver name "${o.name}"`)
  const log = componentLogger(o.log, 'ipam-driver')
  const requests = metric(o.metrics, 'driftgate_ipam_driver_requests_total', () => new Counter({
    name: 'driftgate_ipam_driver_requests_total', help: 'Docker IPAM plugin calls, by method and result', labelNames: ['method', 'result'], registers: [o.metrics],
  }))
  const duration = metric(o.metrics, 'driftgate_ipam_driver_duration_seconds', () => new Histogram({
    name: 'driftgate_ipam_driver_duration_seconds', help: 'Time to answer one Docker IPAM plugin call', labelNames: ['method'],
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5], registers: [o.metrics],
  }))
  const retries = ipamRetriesCounter(o.metrics)
  const logic = new IpamDriverLogic(o.host, ipamClient(o.nc, o.host, o.prefix, o.deadlineMs ?? IPAM_DEADLINE_MS, (op, why) => retries.inc({ op, why })))
  const socketPath = join(o.socketDir ?? DEFAULT_SOCKET_DIR, `${o.name}.sock`)
  const server = await listenPlugin({
    socketPath,
    log,
    routes: {
      'Plugin.Activate': () => logic.activate(),
      'IpamDriver.GetCapabilities': () => logic.capabilities(),
      'IpamDriver.GetDefaultAddressSpaces': () => logic.addressSpaces(),
      'IpamDriver.RequestPool': async (b) => await logic.requestPool(b),
      'IpamDriver.ReleasePool': (b) => logic.releasePool(b),
      'IpamDriver.RequestAddress': async (b) => await logic.requestAddress(b),
      'IpamDriver.ReleaseAddress': async (b) => await logic.releaseAddress(b),
    },
    observe: (method, ok, seconds) => {
      requests.inc({ method, result: ok ? 'ok' : 'error' })
      duration.observe({ method }, seconds)
    },
  })
  log.info({ socketPath, host: o.host }, 'ipam driver listening')
  let closing: Promise<void> | undefined
  return {
    socketPath,
    close: async () => {
      closing ??= (async () => {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
        rmSync(socketPath, { force: true })
      })()
      await closing
    },
  }
}

/** Requests to the allocators sent again (after a timeout or no responders), by op: shared by the driver and the binder. */
export function ipamRetriesCounter (registry: Registry): Counter<'op' | 'why'> {
  return metric(registry, 'driftgate_agent_ipam_retries_total', () => new Counter({
    name: 'driftgate_agent_ipam_retries_total', help: 'IPAM requests sent again after a timeout or no responders, by op', labelNames: ['op', 'why'], registers: [registry],
  }))
}

export interface BindByMacRequest { host: string, mac: string, ip: string, containerId: string, pool?: string }

/**
 * Marks an address `bound` to a container: the agent calls this when it sees
 * the container start, with the IP and MAC from the container's network
 * settings on the driftgate network. Idempotent. Without it, the address
 * stays `reserved` and is reclaimed after the reserve grace (unless a
 * snapshot lists the container as a labelled endpoint with that IP and MAC).
 */
export async function bindByMac (nc: NatsConnection, req: BindByMacRequest, prefix?: string, onRetry?: RetryHook): Promise<IpamReply> {
  return await ipamClient(nc, req.host, prefix, IPAM_DEADLINE_MS, onRetry)('bind', { v: 1, ...req, mac: req.mac.toLowerCase() })
}
