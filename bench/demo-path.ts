// The demo's data path: requests/s through nginx in lua mode (real agent,
// registry, renderer, nginx on a 1-host testbed, one replica of the test
// image) beside requests/s straight to that container, in the same run.
// wrk -t1 -c8 keep-alive, loopback (nginx) and the testbed LAN (container)
// only, bounded by BENCH_SECONDS per round; rounds alternate so both paths
// see the same machine load. Medians over BENCH_ROUNDS.
//   npm run bench -- bench/demo-path.ts
//   env: BENCH_SECONDS (default 5), BENCH_ROUNDS (default 3)
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { connect } from 'nats'
import { Testbed, startNats, startNginx, freePort, waitFor } from '../test/harness/index.js'
import { silentLogger } from '../src/core/index.js'
import { createRenderer } from '../src/renderer/index.js'
import { createAgent, resolveAgentConfig } from '../src/agent/index.js'
import { createRegistry, resolveRegistryConfig } from '../src/registry/index.js'
import { exampleHttpBody, get } from '../test/integration/renderer-fixtures.js'

const SECONDS = Math.min(30, Number(process.env.BENCH_SECONDS ?? 5))
const ROUNDS = Math.min(10, Number(process.env.BENCH_ROUNDS ?? 3))
const pexec = promisify(execFile)
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]
const log = silentLogger()

interface Wrk { rps: number, latency: string, errors: string }
async function wrk (url: string, host?: string): Promise<Wrk> {
  const args = ['-t1', '-c8', `-d${SECONDS}s`, '--timeout', '5s', ...(host != null ? ['-H', `Host: ${host}`] : []), url]
  const { stdout } = await pexec('wrk', args, { timeout: (SECONDS + 30) * 1000 })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN)
  const latency = /Latency\s+(\S+)/.exec(stdout)?.[1] ?? '?'
  const errors = [/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[0], /Socket errors: [^\n]+/.exec(stdout)?.[0]].filter((x) => x != null).join('; ')
  return { rps, latency, errors: errors === '' ? '0 errors' : errors }
}

const tb = await Testbed.create({ hosts: 1, name: 'demopath' })
const nats = await startNats()
const nc = await connect({ servers: nats.url })
const registry = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, nats: nats.url }), { nc, log, components: [] })
const agent = createAgent(resolveAgentConfig({ ipamDriver: false, hostId: tb.hosts[0].name, docker: tb.hosts[0].socketPath, nats: nats.url, network: 'mv0' }), { log })
const out = mkdtempSync(join(tmpdir(), 'dg-demopath-'))
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: true })
const renderer = createRenderer({
  id: 'demopath', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
  statusPort: await freePort(), minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 10_000, announceIntervalMs: 5000, mode: 'lua',
}, { nc, log })
try {
  await registry.start()
  await agent.start()
  await renderer.start()
  const base = tb.hosts[0].ipRange.split('/')[0].split('.').map(Number)
  const ip = `${base[0]}.${base[1]}.${base[2]}.${base[3] + 2}`
  await tb.run(1, { labels: { 'driftgate.service': 'web', 'driftgate.port': '80' }, ip })
  await waitFor(async () => (await get(nginx.port, 'web')).status === 200, { what: 'web served through nginx', timeoutMs: 30_000 })
  const via: Wrk[] = []; const direct: Wrk[] = []
  for (let r = 0; r < ROUNDS; r++) {
    via.push(await wrk(`http://127.0.0.1:${nginx.port}/`, 'web'))
    direct.push(await wrk(`http://${ip}:80/`))
  }
  const v = median(via.map((x) => x.rps)); const d = median(direct.map((x) => x.rps))
  console.log(`wrk -t1 -c8 -d${SECONDS}s keep-alive, ${ROUNDS} alternating rounds (medians):`)
  console.log(`  through nginx (lua mode): ${v.toFixed(0)} req/s  [${via.map((x) => `${x.rps.toFixed(0)} @ ${x.latency}, ${x.errors}`).join(' | ')}]`)
  console.log(`  straight to the container: ${d.toFixed(0)} req/s  [${direct.map((x) => `${x.rps.toFixed(0)} @ ${x.latency}, ${x.errors}`).join(' | ')}]`)
  console.log(`  ratio nginx / direct: ${(v / d).toFixed(2)}  (load average ${(await pexec('cat', ['/proc/loadavg'])).stdout.trim()})`)
} finally {
  await renderer.close(); await nginx.stop(); await agent.close(); await registry.close()
  await nc.close(); await nats.stop(); await tb.teardown()
  rmSync(out, { recursive: true, force: true })
}
