// `driftgate registry`: the control plane (src/registry/). Any number of
// instances (1–3) may run at once; they share all state through NATS.
import type { Command } from 'commander'
import { createLogger, createMetricsRegistry, loadConfig } from '../core/index.js'
import { createRegistry, registrySchema, type RegistryConfig } from '../registry/index.js'
import { addCommonRoleOptions, collect, explicitFlags, int, runUntilSignal } from './common.js'
import { serveMetrics } from './metrics-server.js'

// "a,b" and repeated flags both build one list.
const commaList = (v: string, prev: string[] | undefined): string[] =>
  [...(prev ?? []), ...v.split(',').map((x) => x.trim()).filter((x) => x !== '')]

export function register (program: Command): void {
  const cmd = program.command('registry')
    .description('control plane: endpoint table from agent events, host liveness, IPAM, HTTP API and DNS')
    .option('--replicas <n>', 'copies of the stream and KV buckets when creating them: 1 for one NATS server, 3 for a cluster (default 1)', int)
    .option('--host-grace <duration>', 'a silent host is down (its endpoints removed) after this long (default 30s)')
    .option('--http-port <port>', 'HTTP API port (default 7070) [env DRIFTGATE_HTTP_PORT]', int)
    .option('--dns-port <port>', 'DNS port, UDP and TCP (default 8600) [env DRIFTGATE_DNS_PORT]', int)
    .option('--api-token <token>', 'bearer token required for writes [env DRIFTGATE_API_TOKEN]')
    .option('--api-token-file <file>', 'file of write tokens, one per line [env DRIFTGATE_API_TOKEN_FILE]')
    .option('--api-read-token <token>', 'require this bearer token for reads too [env DRIFTGATE_API_READ_TOKEN]')
    .option('--http-host <addr>', 'HTTP listen address (default 127.0.0.1: loopback only; 0.0.0.0 for every interface)')
    .option('--dns-host <addr>', 'DNS listen address (default 127.0.0.1: loopback only; e.g. the MacVLAN gateway for containers)')
    .option('--dns-ttl <seconds>', 'TTL of DNS answers (default 0)', int)
    .option('--dns-forward <ip[:port]...>', 'resolvers for names outside the domain (repeatable)', collect)
    .option('--dns-forward-allow <cidr,...>', 'clients allowed to use --dns-forward: IPv4 CIDRs, "loopback", "pools" (IPAM pool subnets); others get REFUSED (default loopback,pools)', commaList)
    .option('--dns-rate-limit <n>', 'DNS responses per second per client address, 0 = off (default 1000; burst --dns-rate-burst, default 2000)', int)
    .option('--dns-rate-burst <n>', 'DNS responses a client may get at once (default 2000)', int)
    .option('--http-max-blocking <n>', 'blocking queries parked at once; more get 429 (default 8192)', int)
    .option('--http-max-blocking-per-client <n>', 'blocking queries parked at once per client address (default 256)', int)
    .option('--domain <domain>', 'DNS zone: <service>.service.<domain> (default driftgate)')
    .option('--ipam-quarantine <duration>', 'a released address waits this long before reuse (default 60s)')
    .option('--no-placement', 'do not run the placement leader loop in this instance')
  addCommonRoleOptions(cmd)
  cmd.addHelpText('after', `
Run one to three instances, all equal: they share one durable consumer and
write the KV buckets with compare-and-set, so any of them may stop at any time.

Tuning (config file or env only): heartbeatInterval (2s; suspect after 3
missed), ackWait (30s), maxAckPending (4000), tombstoneTtl (10m),
ipamReserveGrace (120s), ipamDownGrace (15m), placementLease (10s),
httpRequestTimeout (30s), dnsUdpMax (1232), dnsTcpMaxConnections (512),
dnsTcpIdle (10s).

The HTTP API and DNS listen on 127.0.0.1 unless --http-host/--dns-host say
otherwise. Writes need the token before their body is read; service env
values are shown only to callers with the write token.

Examples:
  driftgate registry --nats nats://127.0.0.1:4222
  DRIFTGATE_API_TOKEN=s3cret driftgate registry \\
    --nats nats://n1:4222,nats://n2:4222,nats://n3:4222 --replicas 3 \\
    --host-grace 45s --metrics-port 9100
  dig @127.0.0.1 -p 8600 web.service.driftgate`)
  cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    const cfg = loadConfig<RegistryConfig>({ role: 'registry', schema: registrySchema, flags: explicitFlags(self), file: opts.config as string | undefined })
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
