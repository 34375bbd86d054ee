// The agent's Prometheus metrics, all on the role's own Registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface AgentMetrics {
  eventsSeen: Counter<'action'>
  published: Counter<'kind'>
  publishFailed: Counter<'kind'>
  publishLatency: Histogram<'kind'>
  handling: Histogram
  reconnects: Counter<'target'>
  lastSnapshotSize: Gauge
  rejected: Counter<'reason'>
  ipamBindFailed: Counter<'reason'>
}

// Sub-millisecond buckets: the agent's own share is meant to stay under 5 ms.
const FINE = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export function createAgentMetrics (registry: Registry): AgentMetrics {
  const registers = [registry]
  return {
    eventsSeen: new Counter({
      name: 'driftgate_agent_events_seen_total', help: 'Docker events received, by action', labelNames: ['action'], registers,
    }),
    published: new Counter({
      name: 'driftgate_agent_published_total', help: 'Messages published (upsert, remove, snapshot, heartbeat)', labelNames: ['kind'], registers,
    }),
    publishFailed: new Counter({
      name: 'driftgate_agent_publish_failed_total', help: 'Publishes not acknowledged by JetStream (healed by the next snapshot)', labelNames: ['kind'], registers,
    }),
    publishLatency: new Histogram({
      name: 'driftgate_agent_publish_latency_seconds', help: 'JetStream publish to acknowledgement', labelNames: ['kind'], buckets: FINE, registers,
    }),
    handling: new Histogram({
      name: 'driftgate_agent_event_handling_seconds', help: 'Docker event received to message published (the agent\'s own share)', buckets: FINE, registers,
    }),
    reconnects: new Counter({
      name: 'driftgate_agent_reconnects_total', help: 'Reconnections, by target (docker, nats)', labelNames: ['target'], registers,
    }),
    lastSnapshotSize: new Gauge({
      name: 'driftgate_agent_last_snapshot_size', help: 'Endpoints in the last published snapshot', registers,
    }),
    rejected: new Counter({
      name: 'driftgate_agent_rejected_containers_total', help: 'Labelled containers skipped, by reason (counted once per container and reason)', labelNames: ['reason'], registers,
    }),
    ipamBindFailed: new Counter({
      name: 'driftgate_agent_ipam_bind_failed_total', help: 'Addresses of our IPAM driver not marked bound to their container, by error code', labelNames: ['reason'], registers,
    }),
  }
}
