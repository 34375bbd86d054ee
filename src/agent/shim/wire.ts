// The agent's shim manager and container DNS stub, wired from its config:
// the stub listens on the shims' addresses (and follows them), and a new
// replica gets the stub of its network as resolver unless its spec says
// `dns: false` or that network has no shim.
import { readFileSync } from 'node:fs'
import type Dockerode from 'dockerode'
import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import { componentLogger, type Logger, type ServiceSpec } from '../../core/index.js'
import { dockerOptions, type ResolvedAgentConfig } from '../config.js'
import { dockerNamespaceProblem } from './netns.js'
import { DnsStub, resolvConfServers } from '../dns/stub.js'
import { ipamClient, IPAM_DEADLINE_MS, type RetryHook } from '../ipam/client.js'
import type { ContainerDns } from '../reconciler/container-spec.js'
import { parseShimAddresses } from './address.js'
import { ShimManager } from './manager.js'
import type { IpRunner } from './ip.js'

export interface ShimAndDns {
  containerIds: () => string[]
  /** The resolver of a new replica; a network without a shim yet gets one check first (it may be brand new). */
  containerDns: (spec: ServiceSpec) => Promise<ContainerDns | undefined>
  close: () => Promise<void>
}

export interface ShimWiring {
  config: Readonly<ResolvedAgentConfig>
  nc: NatsConnection
  docker: Dockerode
  log: Logger
  metrics: Registry
  onRetry?: RetryHook
  ip?: IpRunner
  /** Tests whose iproute2 is a fake. */
  skipNamespaceCheck?: boolean
}

function hostResolvers (log: Logger): string[] {
  try { return resolvConfServers(readFileSync('/etc/resolv.conf', 'utf8')) } catch (err) {
    log.warn({ err: (err as Error).message }, 'container dns: /etc/resolv.conf unreadable; outside names get REFUSED (set --dns-forward)')
    return []
  }
}

const NONE: ShimAndDns = { containerIds: () => [], containerDns: async () => undefined, close: async () => {} }

export async function startShimAndDns (w: ShimWiring): Promise<ShimAndDns> {
  const s = w.config
  const log = componentLogger(w.log, 'shim')
  const opts = dockerOptions(s.docker)
  const problem = w.skipNamespaceCheck === true ? null : dockerNamespaceProblem('socketPath' in opts ? opts.socketPath : undefined)
  if (problem !== null) {
    log.warn({ docker: s.docker }, problem)
    return NONE
  }
  let dns: DnsStub | undefined
  if (s.dnsUpstream.length > 0) {
    const forward = s.dnsForward.length > 0 ? [...s.dnsForward] : hostResolvers(log)
    dns = new DnsStub({ domain: s.dnsDomain, upstream: [...s.dnsUpstream], forward, log: componentLogger(w.log, 'container-dns'), metrics: w.metrics })
  }
  const stub = dns
  const shims = new ShimManager({
    docker: w.docker, log, metrics: w.metrics, intervalMs: s.resyncMs, ip: w.ip,
    address: {
      host: s.hostId,
      ipamDriverName: s.ipamDriverName,
      ipam: s.ipamDriverName !== undefined ? ipamClient(w.nc, s.hostId, s.prefix, IPAM_DEADLINE_MS, w.onRetry) : undefined,
      static: parseShimAddresses(s.shimAddress),
    },
    onAddresses: stub !== undefined ? async (a) => { await stub.listen(a.values()) } : undefined,
  })
  await shims.start()
  const search = [`service.${s.dnsDomain}`]
  return {
    containerIds: () => shims.containerIds(),
    containerDns: async (spec) => {
      if (stub === undefined || spec.dns === false) return undefined
      // A replica created before the periodic check saw its network would keep Docker's resolver for life.
      if (shims.addressOf(spec.network) === undefined) await shims.check()
      const at = shims.addressOf(spec.network)
      return at !== undefined && stub.addresses.includes(at) ? { Dns: [at], DnsSearch: search } : undefined
    },
    close: async () => {
      await stub?.close()
      await shims.close()
    },
  }
}
