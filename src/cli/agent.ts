// `driftgate agent`: one per Docker host; publishes labelled containers and
// their MacVLAN IPs to NATS, serves the Docker IPAM driver and runs the
// replicas placement assigns to the host. The work is in src/agent/.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { createAgent, agentSchema, resolveAgentConfig, type AgentConfig } from '../agent/index.js'
import { createLogger, createMetricsRegistry } from '../core/index.js'
import { addRoleOptions, explicitFlags, runUntilSignal } from './common.js'
import { serveMetrics } from './metrics-server.js'

export function register (program: Command): void {
  const cmd = program.command('agent')
    .description(descriptionOf('agent'))
  addRoleOptions(cmd, agentSchema)
  cmd.addHelpText('after', `
Containers are registered when they carry the label driftgate.service=<name>
(optional: driftgate.port, driftgate.weight, driftgate.network).

Example:
  driftgate agent --host-id h1 --nats nats://10.0.0.5:4222 \\
    --docker /var/run/docker.sock --network mv0 --host-label rack=r1 --metrics-port 9101

Every host's dockerd then shares the registry's address pool:
  docker network create -d macvlan --ipam-driver driftgate \
    --subnet 10.0.8.0/22 -o parent=eth0 mv0`)
  cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    // Only what was typed: commander's defaults for --no-x must not hide env and YAML.
    const cfg = resolveAgentConfig(explicitFlags(self) as Partial<AgentConfig>, process.env, opts.config as string | undefined)
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
