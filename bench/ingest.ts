// Ingest throughput and latency of ONE registry instance against a real
// nats-server, with a scripted publisher: 10,000 events over 1,000 services
// (3,000 containers on 10 hosts, 80 % upserts, 20 % removals).
//   node --import=tsx bench/ingest.ts
//   env: EVENTS=10000 SERVICES=1000 RATE=5000 (paced run, events/s)
// 1. backlog: all events are in the stream before the registry starts; events/s
//    = events / time until every one is applied (the registry's own ceiling).
// 2. paced:   the publisher sends at RATE while the registry runs; latency =
//    publish → change visible in a KV watch, per event (p50/p99), and the
//    sustained rate.
// 3. instances (MODE=instances): registries as child processes (the CLI from
//    dist/, `npm run build` first), on one server or CLUSTER=1 (3 nodes, R3);
//    INSTANCES=1,3 runs each count on a fresh server side by side. Once every
//    instance answers /healthz, all events are sent at once (core publish, the
//    stream stores them); events/s = events / time until all are applied.
//    PROF=dir writes each registry's --cpu-prof. BASE=a/main.js[,b/main.js] runs
//    older builds side by side (before this one), ROUNDS=n interleaves n rounds.
import { readFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { startNats, startNatsCluster, freePort, waitFor } from '../test/harness/index.js'
import { Child, procStats } from './scale/system.js'
import { ScriptedAgent, startRegistry, endpoint, counter } from '../test/integration/registry-fixtures.js'
import { encodeJson, ensureStream, openBucket, Buckets } from '../src/bus/index.js'
import type { EventMessage } from '../src/core/index.js'

const EVENTS = Number(process.env.EVENTS ?? 10_000)
const SERVICES = Number(process.env.SERVICES ?? 1000)
const RATE = Number(process.env.RATE ?? 5000)
const HOSTS = 10
const PER_SERVICE = 3

function makeEvents (nc: NatsConnection): Array<{ agent: ScriptedAgent, msg: EventMessage }> {
  const agents = Array.from({ length: HOSTS }, (_, i) => new ScriptedAgent(nc, `h${i}`))
  let r = 7
  const rnd = (): number => { r = (r * 1103515245 + 12345) & 0x7fffffff; return r / 0x7fffffff }
  return Array.from({ length: EVENTS }, () => {
    const n = Math.floor(rnd() * SERVICES * PER_SERVICE)
    const agent = agents[n % HOSTS]
    const ep = endpoint(`svc${n % SERVICES}`, n)
    return { agent, msg: agent.event(rnd() < 0.8 ? 'upsert' : 'remove', ep) }
  })
}

/** CPU seconds used so far by a process (utime + stime from /proc). */
function procCpu (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
/** Write and read syscalls so far, user and system CPU seconds: where a process's CPU goes besides JS. */
function procIo (pid: number): { syscw: number, syscr: number, user: number, sys: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8')
    const n = (k: string): number => Number(new RegExp(`${k}: (\\d+)`).exec(io)?.[1] ?? 0)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { syscw: n('syscw'), syscr: n('syscr'), user: Number(f[11]) / 100, sys: Number(f[12]) / 100 }
  } catch { return { syscw: 0, syscr: 0, user: 0, sys: 0 } }
}
const selfCpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
function cpuLine (pid: number, from: { nats: number, self: number }): string {
  const nats = procCpu(pid) - from.nats
  const self = selfCpu() - from.self
  return `cpu: nats-server ${nats.toFixed(2)} s, this process ${self.toFixed(2)} s ` +
    `= ${((nats + self) * 1e6 / EVENTS).toFixed(0)} µs per event; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`
}
const cpuNow = (pid: number): { nats: number, self: number } => ({ nats: procCpu(pid), self: selfCpu() })

const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]

async function drained (nc: NatsConnection, stored = 0): Promise<void> {
  const jsm = await nc.jetstreamManager()
  for (;;) {
    const i = await jsm.consumers.info('DRIFTGATE_EVENTS', 'registry')
    if (i.num_pending === 0 && i.num_ack_pending === 0 && i.delivered.stream_seq >= stored) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function backlog (): Promise<void> {
  const nats = await startNats()
  try {
    const nc = await connect({ servers: nats.url, noAsyncTraces: true })
    await ensureStream(await nc.jetstreamManager())
    const events = makeEvents(nc)
    for (let i = 0; i < events.length; i += 500) {
      await Promise.all(events.slice(i, i + 500).map(async ({ agent, msg }) => await agent.publish(msg)))
    }
    const t0 = performance.now()
    const c0 = cpuNow(nats.pid)
    const reg = await startRegistry(nats.url)
    console.log(`  registry started in ${((performance.now() - t0) / 1000).toFixed(2)} s`)
    await drained(nc)
    const secs = (performance.now() - t0) / 1000
    const applied = await counter(reg.reg, 'driftgate_registry_events_applied_total')
    console.log(`backlog: ${EVENTS} events (${applied} writes) in ${secs.toFixed(2)} s = ${Math.round(EVENTS / secs)} events/s (incl. registry start)`)
    console.log(`  ${cpuLine(nats.pid, c0)} (registry only)`)
    await reg.close()
    await nc.close()
  } finally { await nats.stop() }
}

async function paced (): Promise<void> {
  const nats = await startNats()
  try {
    const nc = await connect({ servers: nats.url, noAsyncTraces: true })
    const reg = await startRegistry(nats.url)
    const events = makeEvents(nc)
    const sentAt = new Map<string, number>() // key#instance#seq → publish time
    const latencies: number[] = []
    const kv = await openBucket(nc, Buckets.endpoints)
    const watch = await kv.watch({ key: '>', include: 'updates' as never })
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT') continue
        const rec = e.json<{ instance: string, seq: number }>()
        const t = sentAt.get(`${e.key}#${rec.instance}#${rec.seq}`)
        if (t != null) latencies.push(performance.now() - t)
      }
    })()
    const t0 = performance.now()
    const c0 = cpuNow(nats.pid)
    const inflight: Array<Promise<unknown>> = []
    for (let i = 0; i < events.length; i++) {
      // Pace: never ahead of RATE.
      const due = t0 + (i * 1000) / RATE
      const wait = due - performance.now()
      if (wait > 2) await new Promise((resolve) => setTimeout(resolve, wait))
      const { agent, msg } = events[i]
      sentAt.set(`${msg.endpoint.service}.${msg.endpoint.containerId}#${msg.instance}#${msg.seq}`, performance.now())
      inflight.push(agent.nc.jetstream().publish(`driftgate.events.${agent.host}`, encodeJson(msg)))
      if (inflight.length >= 200) { await Promise.all(inflight); inflight.length = 0 }
    }
    await Promise.all(inflight)
    const published = performance.now()
    await drained(nc)
    const secs = (performance.now() - t0) / 1000
    watch.stop()
    latencies.sort((a, b) => a - b)
    console.log(`paced at ${RATE}/s: ${EVENTS} events applied in ${secs.toFixed(2)} s = ${Math.round(EVENTS / secs)} events/s sustained ` +
      `(publishing took ${((published - t0) / 1000).toFixed(2)} s)`)
    console.log(`apply latency (publish → visible in KV watch, ${latencies.length} writes): p50 ${pct(latencies, 0.5).toFixed(1)} ms, ` +
      `p99 ${pct(latencies, 0.99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms`)
    console.log(`  ${cpuLine(nats.pid, c0)} (registry + publisher)`)
    await reg.close()
    await nc.close()
  } finally { await nats.stop() }
}

console.log(`ingest bench: ${EVENTS} events, ${SERVICES} services × ${PER_SERVICE} containers, ${HOSTS} hosts, 1 registry instance`)
interface Server { urls: string[], pids: () => number[], stop: () => Promise<void> }
async function startServer (cluster: boolean): Promise<Server> {
  if (!cluster) {
    const n = await startNats()
    return { urls: [n.url], pids: () => [n.pid], stop: async () => { await n.stop() } }
  }
  const c = await startNatsCluster(3)
  return { urls: c.urls, pids: () => c.nodes.map((n) => n.pid), stop: async () => { await c.stop() } }
}

async function healthy (port: number): Promise<boolean> {
  try { return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok } catch { return false }
}

/** Sum of each metric's samples, by name, from a registry's /metrics. */
async function scrape (port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line)
      if (m != null) out.set(m[1], (out.get(m[1]) ?? 0) + Number(m[2]))
    }
  } catch { /* a registry that died: its counts are missing */ }
  return out
}

/** Backlog drained by `count` registry processes; events/s from "all ready" to "drained". */
async function instances (count: number, cluster: boolean, cli?: string): Promise<number> {
  const server = await startServer(cluster)
  const children: Child[] = []
  const logDir = mkdtempSync(join(tmpdir(), 'dg-ingest-'))
  try {
    const nc = await connect({ servers: server.urls, noAsyncTraces: true })
    const replicas = cluster ? 3 : 1
    await ensureStream(await nc.jetstreamManager(), { replicas })
    const events = makeEvents(nc)
    const ports: number[] = []
    for (let i = 0; i < count; i++) {
      const port = await freePort()
      ports.push(port)
      const urls = [...server.urls.slice(i % server.urls.length), ...server.urls.slice(0, i % server.urls.length)].join(',')
      const c = new Child(`registry${i + 1}`, ['registry', '--nats', urls, '--replicas', String(replicas),
        '--http-port', String(port), '--dns-port', String(await freePort()), '--log-level', 'warn'], join(logDir, `registry${i + 1}.log`),
      { ...(process.env.PROF != null ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.PROF}` } : {}), ...(cli != null ? { DG_CLI: cli } : {}) })
      children.push(c)
      c.start()
      // the first creates the buckets and the consumer; the others find them
      if (i === 0) await waitFor(async () => await healthy(port), { timeoutMs: 60_000, intervalMs: 20, what: 'registry1 up' })
    }
    await waitFor(async () => (await Promise.all(ports.map(healthy))).every(Boolean), { timeoutMs: 60_000, intervalMs: 20, what: 'registries up' })
    // All events at once once every instance is up (a start on a busy cluster
    // takes seconds: a backlog made before would be gone by then). Core
    // publishes: the stream stores them as fast as it can, no publisher acks.
    const floor = 0
    const cpu0 = children.map((c) => procStats(c.pid).cpu)
    const io0 = children.map((c) => procIo(c.pid))
    const n0 = server.pids().map((p) => procStats(p).cpu)
    const t0 = performance.now()
    for (const { agent, msg } of events) nc.publish(`driftgate.events.${agent.host}`, encodeJson(msg))
    await nc.flush()
    const sent = (performance.now() - t0) / 1000
    await drained(nc, EVENTS)
    const secs = (performance.now() - t0) / 1000
    const rate = (EVENTS - floor) / secs
    const regCpu = children.map((c, i) => procStats(c.pid).cpu - cpu0[i])
    const natsCpu = server.pids().map((p, i) => procStats(p).cpu - n0[i])
    const io = children.map((c, i) => { const a = procIo(c.pid); const b = io0[i]; return { w: a.syscw - b.syscw, r: a.syscr - b.syscr, user: a.user - b.user, sys: a.sys - b.sys } })
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
    console.log(`${cli != null ? `[${cli}] ` : ''}${count} instance(s), ${cluster ? '3-node R3 cluster' : 'one server'}: ${EVENTS} events sent in ${sent.toFixed(2)} s, ` +
      `all applied in ${secs.toFixed(2)} s = ${Math.round(rate)} events/s; restarts ${sum(children.map((c) => c.restarts))}`)
    console.log(`  cpu: registries ${regCpu.map((x) => x.toFixed(2)).join('+')} s, nats ${natsCpu.map((x) => x.toFixed(2)).join('+')} s ` +
      `= ${((sum(regCpu) + sum(natsCpu)) * 1e6 / (EVENTS - floor)).toFixed(0)} µs per event; load average ${loadavg()[0].toFixed(1)}`)
    console.log(`  registries: user ${io.map((x) => x.user.toFixed(2)).join('+')} s, system ${io.map((x) => x.sys.toFixed(2)).join('+')} s; ` +
      `syscalls per event: write ${(sum(io.map((x) => x.w)) / EVENTS).toFixed(2)}, read ${(sum(io.map((x) => x.r)) / EVENTS).toFixed(2)}`)
    const m = await Promise.all(ports.map(scrape))
    const total = (name: string): number => sum(m.map((x) => x.get(name) ?? 0))
    console.log(`  writes ${total('driftgate_registry_events_applied_total')}, lost CAS ${total('driftgate_registry_write_conflicts_total')}, ` +
      `folded into a later write ${total('driftgate_registry_coalesced_events_total')}, ignored ${total('driftgate_registry_stale_events_total')}`)
    await Promise.all(children.map(async (c) => { await c.stop() }))
    await nc.close()
    return rate
  } finally {
    await Promise.all(children.map(async (c) => { await c.stop() }))
    await server.stop()
  }
}

const MODE = process.env.MODE ?? 'backlog,paced'
if (MODE.includes('instances')) {
  const counts = (process.env.INSTANCES ?? '1,3').split(',').map(Number)
  const cluster = process.env.CLUSTER === '1'
  // BASE=path/to/main.js[,other/main.js]: the same runs with older builds first, for before/after ratios.
  const bases = (process.env.BASE ?? '').split(',').filter((b) => b !== '')
  // ROUNDS=n: every build n times, interleaved (A B A B), medians compared: a busy machine drifts.
  const rounds = Number(process.env.ROUNDS ?? 1)
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const runs: number[][][] = counts.map(() => [...bases, ''].map(() => []))
  for (let r = 0; r < rounds; r++) {
    for (const [c, n] of counts.entries()) {
      for (const [b, cli] of [...bases, ''].entries()) runs[c][b].push(await instances(n, cluster, cli === '' ? undefined : cli))
    }
  }
  const rates = runs.map((byBuild) => median(byBuild[bases.length]))
  console.log(`side by side: ${counts.map((n, i) => `${n} → ${Math.round(rates[i])}/s (×${(rates[i] / rates[0]).toFixed(2)})`).join(', ')}` +
    (rounds > 1 ? ` (medians of ${rounds} rounds)` : ''))
  for (const [b, base] of bases.entries()) {
    console.log(`${base} → this build: ${counts.map((n, c) => {
      const before = median(runs[c][b])
      return `${n} instance(s) ${Math.round(before)} → ${Math.round(rates[c])}/s (×${(rates[c] / before).toFixed(2)})`
    }).join(', ')}`)
  }
}
if (MODE.includes('backlog')) await backlog()
if (MODE.includes('paced')) await paced()
