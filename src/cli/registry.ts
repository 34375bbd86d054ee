// `driftgate registry`: the control plane (src/registry/). Any number of
// instances (1–3) may run at once; they share all state through NATS.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { createLogger, createMetricsRegistry } from '../core/index.js'
import { createRegistry, registrySchema, resolveRegistryConfig, type RegistryConfig } from '../registry/index.js'
import { addRoleOptions, explicitFlags, runUntilSignal } from './common.js'
import { serveMetrics } from './metrics-server.js'
import { setHeapGrowing } from './v8-heap.js'

export function register (program: Command): void {
  const cmd = program.command('registry')
    .description(descriptionOf('registry'))
  addRoleOptions(cmd, registrySchema)
  cmd.addHelpText('after', `
Run one to three instances, all equal: they share one durable consumer and
write the KV buckets with compare-and-set, so any of them may stop at any time.

The HTTP API and DNS listen on 127.0.0.1 unless --http-host/--dns-host say
otherwise. Writes need the token before their body is read; service env
values are shown only to callers with the write token.

Examples:
  driftgate registry --nats nats://127.0.0.1:4222
  DRIFTGATE_API_TOKEN=s3cret-token driftgate registry \\
    --nats nats://n1:4222,nats://n2:4222,nats://n3:4222 --replicas 3 \\
    --host-grace 45s --metrics-port 9100
  dig @127.0.0.1 -p 8600 web.service.driftgate`)
  cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    const cfg = resolveRegistryConfig(explicitFlags(self) as Partial<RegistryConfig>, process.env, opts.config as string | undefined)
    setHeapGrowing(cfg.heapGrowingPercent) // the registry's old generation: docs/scaling.md "Memory by size"
    const log = createLogger({ role: 'registry', level: cfg.logLevel })
    const metrics = createMetricsRegistry('registry', { defaults: true })
    const registry = createRegistry(cfg, { log, metrics })
    try {
      await registry.start()
    } catch (err) {
      await registry.close()
      throw err
    }
    const server = cfg.metricsPort != null ? await serveMetrics(metrics, cfg.metricsPort) : undefined
    process.exitCode = await runUntilSignal(log, {
      close: async () => { await server?.close(); await registry.close() },
    })
  })
}
