// Numbering and publishing: one sequence over events and snapshots, msgID
// for JetStream de-duplication, failures reported for a healing snapshot.
import t from 'tap'
import { Registry } from 'prom-client'
import type { JetStreamClient, NatsConnection } from 'nats'
import { Publisher } from '../../src/agent/publisher.js'
import { createAgentMetrics } from '../../src/agent/metrics.js'
import { subjects } from '../../src/bus/index.js'
import { checkEvent, checkHeartbeat, checkSnapshot, silentLogger } from '../../src/core/index.js'

function setup (fail = false) {
  const calls: Array<{ subject: string, msg: any, msgID?: string }> = []
  const core: Array<{ subject: string, msg: any }> = []
  const failures: string[] = []
  const js = {
    publish: async (subject: string, data: Uint8Array, opts: { msgID?: string }) => {
      calls.push({ subject, msg: JSON.parse(new TextDecoder().decode(data)), msgID: opts.msgID })
      if (fail) throw new Error('TIMEOUT')
      return { stream: 'DRIFTGATE_EVENTS', seq: calls.length, duplicate: false }
    },
  } as unknown as JetStreamClient
  const nc = { publish: (subject: string, data: Uint8Array) => { core.push({ subject, msg: JSON.parse(new TextDecoder().decode(data)) }) } } as unknown as NatsConnection
  const metrics = createAgentMetrics(new Registry())
  const p = new Publisher({
    nc, js, subjects: subjects('dg'), host: 'h1', instance: '000000001-abcdef', metrics, log: silentLogger(),
    onFailure: (kind) => failures.push(kind), now: () => 1000.5,
  })
  return { p, calls, core, failures, metrics }
}

const ep = { service: 'web', containerId: 'a'.repeat(64), ip: '10.240.0.2', mac: '02:00:00:00:00:02', port: 80, network: 'mv0', state: 'running' as const, health: 'none' as const, weight: 1 }

t.test('one sequence over events and snapshots; msgID per message', async (t) => {
  const s = setup()
  const a = s.p.publishEvent({ kind: 'upsert', endpoint: ep }, 999.25, 'start')
  const b = s.p.publishSnapshot([ep], [ep.containerId])
  const c = s.p.publishEvent({ kind: 'remove', endpoint: { service: 'web', containerId: ep.containerId } }, 1000, 'die')
  t.same([a.seq, b.seq, c.seq], [1, 2, 3])
  t.same(await Promise.all([a.acked, b.acked, c.acked]), [true, true, true])
  t.same(s.calls.map((x) => [x.subject, x.msgID]), [
    ['dg.events.h1', '000000001-abcdef-1'], ['dg.snapshot.h1', '000000001-abcdef-2'], ['dg.events.h1', '000000001-abcdef-3'],
  ])
  checkEvent(s.calls[0].msg)
  checkSnapshot(s.calls[1].msg)
  checkEvent(s.calls[2].msg)
  t.match(s.calls[0].msg, { time: 999.25, sentAt: 1000.5, cause: 'start' })
  t.match(await s.metrics.published.get(), { values: [{ labels: { kind: 'upsert' }, value: 1 }, { labels: { kind: 'snapshot' }, value: 1 }, { labels: { kind: 'remove' }, value: 1 }] })
})

t.test('an unacknowledged publish is counted and reported', async (t) => {
  const s = setup(true)
  const a = s.p.publishEvent({ kind: 'upsert', endpoint: ep }, 1, 'start')
  t.equal(await a.acked, false)
  t.same(s.failures, ['upsert'])
  t.match(await s.metrics.publishFailed.get(), { values: [{ labels: { kind: 'upsert' }, value: 1 }] })
  await s.p.drain(100)
})

t.test('heartbeats are core publishes', async (t) => {
  const s = setup()
  s.p.heartbeat({ v: 1, host: 'h1', instance: '000000001-abcdef', sentAt: 1, capacity: { cpus: 2, memoryBytes: 1 }, allocated: { cpus: 0, memoryBytes: 0, containers: 0 }, labels: { rack: 'r1' } })
  t.equal(s.calls.length, 0)
  t.equal(s.core[0].subject, 'dg.heartbeat.h1')
  checkHeartbeat(s.core[0].msg)
})
