// `driftgate agent`: one per Docker host; publishes labelled containers and
// their MacVLAN IPs to NATS, serves the Docker IPAM driver and runs the
// replicas placement assigns to the host. The work is in src/agent/.
import type { Command } from 'commander'
import { createAgent, agentSchema, type AgentConfig } from '../agent/index.js'
import { createLogger, createMetricsRegistry, loadConfig } from '../core/index.js'
import { addCommonRoleOptions, collect, explicitFlags, runUntilSignal } from './common.js'
import { serveMetrics } from './metrics-server.js'

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
    .option('--ipam-driver-name <name>', 'serve the Docker IPAM driver as <dir>/<name>.sock (default driftgate)')
    .option('--ipam-socket-dir <dir>', 'folder dockerd reads plugin sockets from (default /run/docker/plugins; the socket is mode 0660)')
    .option('--no-ipam-driver', 'do not serve the Docker IPAM driver')
    .option('--no-reconcile', 'do not run the replicas placement assigns to this host')
  addCommonRoleOptions(cmd)
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
    const cfg = loadConfig<AgentConfig & { logLevel: string, metricsPort?: number }>({
      role: 'agent', schema: agentSchema, flags: explicitFlags(self), file: opts.config as string | undefined,
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
