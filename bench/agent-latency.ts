// Latency of the agent on a real testbed: N container starts (default 200),
// one after the other, and for each the time from Docker's event to the
// upsert reaching a NATS subscriber, and the agent's own share (event
// received from Docker → message handed to NATS).
//   node --import=tsx bench/agent-latency.ts
//   env: BENCH_N (default 200), AGENT_LOG (default warn). Exit code 1 when the share p99 > 5 ms.
import PQueue from 'p-queue'
import { TEST_IMAGE, waitFor } from '../test/harness/index.js'
import { setupFixture, NET } from '../test/integration/agent-fixtures.js'
import type { Trace } from '../src/agent/index.js'

const N = Number(process.env.BENCH_N ?? 200)

function pct (values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}
const fmt = (v: number): string => v.toFixed(2).padStart(8)

async function main (): Promise<void> {
  const fx = await setupFixture()
  try {
        // The first upsert of a container may come from its network connect event
    // (Docker attaches the network, starts the process, then says "start"):
    // whichever comes first is the one that counts, later duplicates are suppressed.
    const firstUpsert = new Map<string, Trace>()
    fx.agent = await fx.startAgent({ onTrace: (tr) => { if (tr.kind === 'upsert' && !firstUpsert.has(tr.containerId)) firstUpsert.set(tr.containerId, tr) } })
    const q = new PQueue({ concurrency: 8 })
    const containers = await Promise.all(Array.from({ length: N }, (_, i) => q.add(async () =>
      await fx.docker.createContainer({ Image: TEST_IMAGE, name: `bench-${i}`, Labels: { 'driftgate.service': 'bench' }, HostConfig: { NetworkMode: NET } }))))
    const e2e: number[] = []
    for (const c of containers) {
      await c!.start()
      const m = await fx.rec.waitEvent((v) => v.kind === 'upsert' && v.endpoint.containerId === c!.id, 'upsert', 10_000)
      e2e.push(m.at - m.value.time)
    }
    await waitFor(() => firstUpsert.size >= N, { what: 'traces' })
    const traces = [...firstUpsert.values()]
    const causes = traces.reduce<Record<string, number>>((acc, tr) => { acc[tr.cause] = (acc[tr.cause] ?? 0) + 1; return acc }, {})
    const share = traces.map((tr) => tr.sentAt - tr.receivedAt)
    const docker = traces.map((tr) => tr.receivedAt - tr.dockerTime)
    const inspect = traces.map((tr) => tr.inspectMs)
    const own = traces.map((tr) => tr.sentAt - tr.receivedAt - tr.inspectMs)
    console.log(`first upsert caused by: ${JSON.stringify(causes)}`)
    console.log(`agent latency over ${N} container starts (ms)      p50      p99      max`)
    console.log(`  Docker event → NATS subscriber          ${fmt(pct(e2e, 50))} ${fmt(pct(e2e, 99))} ${fmt(Math.max(...e2e))}`)
    console.log(`  Docker event → agent received it        ${fmt(pct(docker, 50))} ${fmt(pct(docker, 99))} ${fmt(Math.max(...docker))}`)
    console.log(`  agent's own share (received → published)${fmt(pct(share, 50))} ${fmt(pct(share, 99))} ${fmt(Math.max(...share))}`)
    console.log(`    of which waiting for docker inspect     ${fmt(pct(inspect, 50))} ${fmt(pct(inspect, 99))} ${fmt(Math.max(...inspect))}`)
    console.log(`    of which agent code (share − inspect)   ${fmt(pct(own, 50))} ${fmt(pct(own, 99))} ${fmt(Math.max(...own))}`)
    const slow = traces.map((tr, i) => [i, tr.sentAt - tr.receivedAt, tr.inspectMs]).sort((a, b) => b[1] - a[1]).slice(0, 3)
    console.log(`  slowest shares [start#, share, inspect]: ${JSON.stringify(slow.map((x) => x.map((v) => Math.round(v * 10) / 10)))}`)
    const ack = await fx.agent.metrics.getSingleMetricAsString('driftgate_agent_publish_latency_seconds')
    const line = (le: string): string => ack.split('\n')
      .find((l) => l.includes(`le="${le}"`) && l.includes('kind="upsert"'))?.split(' ').at(-1) ?? '?'
    console.log(`  JetStream ack ≤1ms: ${line('0.001')}, ≤5ms: ${line('0.005')}, ≤10ms: ${line('0.01')} of ${N}+ upserts`)
    if (pct(share, 99) > 5) process.exitCode = 1
  } finally {
    await fx.teardown()
  }
}

await main()
