// `driftgate agent`: one per Docker host; publishes labelled containers and
// their MacVLAN IPs to NATS. The work is in src/agent/.
import type { Command } from 'commander'
import { createAgent, agentSchema, type AgentConfig } from '../agent/index.js'
import { createLogger, createMetricsRegistry, loadConfig } from '../core/index.js'
import { addCommonRoleOptions, runUntilSignal } from './common.js'
import { serveMetrics } from './metrics-server.js'

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

export function register (program: Command): void {
  const cmd = program.command('agent')
    .description('Watch one Docker host and publish every labelled container with its MacVLAN IP to NATS')
    .option('--host-id <id>', 'this host\'s id, a DNS label [env DRIFTGATE_HOST_ID]')
    .option('--docker <socket|url>', 'Docker socket path or tcp://host:port (default /var/run/docker.sock)')
    .option('--network <name>', 'MacVLAN network whose IP to publish when a container has no driftgate.network label')
    .option('--host-label <k=v>', 'label of this host for placement (repeatable)', collect)
    .option('--host-address <ip>', 'this host\'s address, announced in heartbeats')
    .option('--resync-interval <duration>', 'full snapshot every (default 30s)')
    .option('--heartbeat-interval <duration>', 'heartbeat every (default 2s)')
    .option('--watchdog <duration>', 'ping Docker after this long without events (default 30s)')
  addCommonRoleOptions(cmd)
  cmd.addHelpText('after', `
Containers are registered when they carry the label driftgate.service=<name>
(optional: driftgate.port, driftgate.weight, driftgate.network).

Example:
  driftgate agent --host-id h1 --nats nats://10.0.0.5:4222 \\
    --docker /var/run/docker.sock --network mv0 --host-label rack=r1 --metrics-port 9101`)
  cmd.action(async (opts: Record<string, unknown>) => {
    const cfg = loadConfig<AgentConfig & { logLevel: string, metricsPort?: number }>({
      role: 'agent', schema: agentSchema, flags: opts, file: opts.config as string | undefined,
    })
    const log = createLogger({ role: 'agent', level: cfg.logLevel })
    const metrics = createMetricsRegistry('agent', { defaults: true })
    const agent = createAgent(cfg, { log, metrics })
    await agent.start()
    const server = cfg.metricsPort !== undefined ? await serveMetrics(metrics, cfg.metricsPort) : undefined
    process.exitCode = await runUntilSignal(log, {
      close: async () => { await server?.close(); await agent.close() },
    })
  })
}
