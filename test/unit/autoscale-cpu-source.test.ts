// The registry's host CPU reports (src/placement/autoscale/cpu-source.ts):
// the subject's host is trusted, stale reports and draining replicas ignored.
import t from 'tap'
import { Registry } from 'prom-client'
import { silentLogger } from '../../src/core/index.js'
import { encodeJson } from '../../src/bus/index.js'
import { HostStatsCollector } from '../../src/placement/autoscale/cpu-source.js'

const ID = (n: number): string => String(n).repeat(64).slice(0, 64)
const report = (host: string, containers: unknown[], intervalMs = 1000): Uint8Array =>
  encodeJson({ v: 1, host, sentAt: 1, intervalMs, containers })

function collector (): { c: HostStatsCollector, metrics: Registry, clock: { now: number } } {
  const metrics = new Registry()
  const clock = { now: 10_000 }
  const c = new HostStatsCollector({ nc: {} as never, subject: 'driftgate.stats.host.*', log: silentLogger(), metrics, now: () => clock.now })
  return { c, metrics, clock }
}

t.test('per-replica figures of a service across hosts; replicas above the count (draining) left out', async (t) => {
  const { c } = collector()
  c.take('driftgate.stats.host.h1', report('h1', [
    { id: ID(1), service: 'web', replica: 0, cpuPercent: 80, limitCpus: 0.5 },
    { id: ID(2), service: 'api', replica: 0, cpuPercent: 5, limitCpus: 1 },
  ]))
  c.take('driftgate.stats.host.h2', report('h2', [
    { id: ID(3), service: 'web', replica: 1, cpuPercent: 60, limitCpus: 0.5 },
    { id: ID(4), service: 'web', replica: 2, cpuPercent: 1, limitCpus: 0.5 },
  ]))
  t.same(c.cpu('web', 2).sort(), [60, 80])
  t.same(c.cpu('web', 3).sort(), [1, 60, 80])
  t.same(c.cpu('api', 1), [5])
  t.same(c.cpu('none', 1), [])
})

t.test('a payload naming another host than its subject is refused and counted; invalid too', async (t) => {
  const { c, metrics } = collector()
  c.take('driftgate.stats.host.h1', report('h2', [{ id: ID(1), service: 'web', replica: 0, cpuPercent: 99, limitCpus: 1 }]))
  c.take('driftgate.stats.host.h1', encodeJson({ v: 1, host: 'h1' }))
  c.take('driftgate.stats.host.h1', new TextEncoder().encode('{'))
  t.same(c.cpu('web', 5), [], 'nothing taken')
  const text = await metrics.metrics()
  t.match(text, /driftgate_autoscale_stats_refused_total\{reason="host_mismatch"\} 1/)
  t.match(text, /driftgate_autoscale_stats_refused_total\{reason="invalid"\} 2/)
})

t.test('a report older than three of its intervals is no figure', async (t) => {
  const { c, clock } = collector()
  c.take('driftgate.stats.host.h1', report('h1', [{ id: ID(1), service: 'web', replica: 0, cpuPercent: 50, limitCpus: 1 }], 1000))
  clock.now += 3000
  t.same(c.cpu('web', 1), [50], 'at three intervals: still counted')
  clock.now += 1
  t.same(c.cpu('web', 1), [], 'past them: gone')
})
