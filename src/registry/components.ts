// Sub-components that run inside a registry instance on its NATS connection
// and buckets: the lookup API/DNS and the IPAM allocator. Each is started
// after ingest and liveness, and closed (in reverse order) before them.
import type { KV, NatsConnection } from 'nats'
import type { Registry as PromRegistry } from 'prom-client'
import type { Buckets } from '../bus/index.js'
import type { Logger } from '../core/index.js'
import type { RegistryConfig } from './config.js'
import { startLookup } from './lookup/index.js'
import { startIpamAllocator, ipamRoutes } from './ipam/index.js'

export interface RegistryContext {
  nc: NatsConnection
  kv: Record<keyof typeof Buckets, KV>
  log: Logger
  metrics: PromRegistry
  config: Readonly<RegistryConfig>
}

export interface SubComponent { close: () => Promise<void> }

export interface SubComponentStarter {
  name: string
  start: (ctx: RegistryContext) => Promise<SubComponent>
}

export const ipamComponent: SubComponentStarter = {
  name: 'ipam',
  start: async (ctx) => await startIpamAllocator({
    nc: ctx.nc, kv: { ipam: ctx.kv.ipam, hosts: ctx.kv.hosts }, log: ctx.log, metrics: ctx.metrics,
    config: { prefix: ctx.config.prefix },
  }),
}

/** HTTP API + DNS; the IPAM pool routes mount on the same API. */
export const lookupComponent: SubComponentStarter = {
  name: 'lookup',
  start: async (ctx) => await startLookup({
    nc: ctx.nc,
    kv: { endpoints: ctx.kv.endpoints, hosts: ctx.kv.hosts, services: ctx.kv.services },
    log: ctx.log,
    metrics: ctx.metrics,
    config: {
      httpPort: ctx.config.httpPort,
      dnsPort: ctx.config.dnsPort,
      domain: ctx.config.domain,
      apiToken: ctx.config.apiToken != null ? [ctx.config.apiToken] : undefined,
    },
    plugins: [ipamRoutes({ kv: ctx.kv.ipam, log: ctx.log })],
  }),
}

/**
 * PLUG-IN POINT: the built-in sub-components, in start order (closed in
 * reverse). Placement's leader loop goes here when it lands.
 * createRegistry(config, { components }) overrides the list (tests).
 */
export const defaultComponents: SubComponentStarter[] = [ipamComponent, lookupComponent]
