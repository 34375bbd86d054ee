// Log shipping throughput of one agent: 10 containers each write BENCH_LINES
// lines as fast as `yes | head` can, then idle. Side by side on the same
// stored output: (floor) 10 parallel `docker logs -t` into /dev/null, and
// (agent) an embedded agent started afterwards, from start() until its
// shipped-lines counter says every line is stored in DRIFTGATE_LOGS. Prints
// lines/s of both, the ratio (goal >= 0.8) and the agent's CPU per 10,000
// lines (this process's CPU while only the agent works).
//   npm run bench -- bench/logs.ts      env: BENCH_LINES (default 50000), BENCH_CONTAINERS (10)
import { spawn } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import type { Counter } from 'prom-client'
import { waitFor } from '../test/harness/index.js'
import { setupFixture } from '../test/integration/agent-fixtures.js'
import { ensureLogStream } from '../src/bus/index.js'

const N = Number(process.env.BENCH_LINES ?? 50_000)
const C = Number(process.env.BENCH_CONTAINERS ?? 10)

async function dockerLogs (sock: string, id: string): Promise<void> {
  const devnull = openSync('/dev/null', 'w')
  try {
    await new Promise<void>((resolve, reject) => {
      const p = spawn('docker', ['-H', `unix://${sock}`, 'logs', '-t', id], { stdio: ['ignore', devnull, devnull] })
      p.on('exit', (code) => { if (code === 0) resolve(); else reject(new Error(`docker logs: ${code}`)) })
    })
  } finally { closeSync(devnull) }
}

async function main (): Promise<void> {
  const fx = await setupFixture()
  try {
    const h = fx.tb.hosts[0]
    await ensureLogStream(await fx.nc.jetstreamManager())
    const ids: string[] = []
    for (let i = 0; i < C; i++) {
      ids.push(await fx.tb.run(h, {
        network: false,
        labels: { 'driftgate.service': `flood${i}` },
        cmd: ['sh', '-c', `yes "container ${i} writes this line as fast as it can" | head -n ${N}; touch /tmp/done; exec sleep 3600`],
      }))
    }
    for (const id of ids) {
      await waitFor(async () => { try { await fx.tb.docker(h)('exec', id, 'test', '-f', '/tmp/done'); return true } catch { return false } },
        { what: 'container output written', timeoutMs: 120_000, intervalMs: 500 })
    }
    const total = N * C

    const f0 = performance.now()
    await Promise.all(ids.map(async (id) => { await dockerLogs(h.socketPath, id) }))
    const floorS = (performance.now() - f0) / 1000

    const cpu0 = process.cpuUsage()
    const a0 = performance.now()
    fx.agent = await fx.startAgent({ logBudgets: { ratePerSecond: 1e9, rateBurst: 1e9 } })
    const shipped = fx.agent.metrics.getSingleMetric('driftgate_agent_log_lines_shipped_total') as Counter
    const count = async (): Promise<number> => (await shipped.get()).values.reduce((n, v) => n + v.value, 0)
    let first = 0
    await waitFor(async () => {
      const n = await count()
      if (n > 0 && first === 0) first = performance.now()
      return n >= total
    }, { what: `${total} lines shipped`, timeoutMs: 600_000, intervalMs: 50 })
    const agentS = (performance.now() - a0) / 1000
    const fromFirstS = (performance.now() - first) / 1000
    const cpu = process.cpuUsage(cpu0)
    const cpuMs = (cpu.user + cpu.system) / 1000

    const rate = (s: number): string => Math.round(total / s).toLocaleString('en-US').padStart(12)
    console.log(`${C} containers × ${N.toLocaleString('en-US')} lines = ${total.toLocaleString('en-US')} lines      seconds     lines/s`)
    console.log(`  floor: ${C} × docker logs -t > /dev/null      ${floorS.toFixed(2).padStart(8)} ${rate(floorS)}`)
    console.log(`  agent: start() → all stored in JetStream     ${agentS.toFixed(2).padStart(8)} ${rate(agentS)}   ratio ${(floorS / agentS).toFixed(2)} (goal >= 0.8)`)
    console.log(`  agent: first line stored → all stored        ${fromFirstS.toFixed(2).padStart(8)} ${rate(fromFirstS)}   ratio ${(floorS / fromFirstS).toFixed(2)}`)
    console.log(`  agent CPU: ${cpuMs.toFixed(0)} ms, ${(cpuMs / (total / 10_000)).toFixed(1)} ms per 10,000 lines (start() included)`)
  } finally {
    await fx.teardown()
  }
}

main().then(() => { process.exit(0) }, (err) => { console.error(err); process.exit(1) })
