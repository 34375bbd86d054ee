// The lua-mode push alone, against a real nginx with the Lua module: a full
// push of N services × PER endpoints (what follows an nginx restart) and a
// one-service delta, timed per stage (batch text in Node, HTTP round trip =
// nginx parsing, validating and writing the shared dict). Medians over ROUNDS.
//   npm run bench -- bench/lua-push.ts
//   env: BENCH_SIZES (default 1000,10000), BENCH_ENDPOINTS (5), BENCH_ROUNDS (7)
import { waitFor } from '../test/harness/index.js'
import { silentLogger, type EndpointRecord } from '../src/core/index.js'
import { buildModel } from '../src/renderer/index.js'
import { buildBatch } from '../src/renderer/lua-batch.js'
import { LuaPusher } from '../src/renderer/lua-push.js'
import { startControlChannel } from './control-channel-fixture.js'

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number)
const PER = Number(process.env.BENCH_ENDPOINTS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]

function endpoints (services: number, shift: number): Map<string, EndpointRecord> {
  const out = new Map<string, EndpointRecord>()
  for (let s = 0; s < services; s++) {
    for (let e = 0; e < PER; e++) {
      const n = s * PER + e + 1 + shift
      const containerId = n.toString(16).padStart(64, 'a')
      out.set(`svc-${s}.${containerId}`, {
        v: 1, service: `svc-${s}`, containerId, ip: `10.${240 + ((n >> 16) & 7)}.${(n >> 8) & 255}.${n & 255}`, mac: '02:42:0a:f0:01:01',
        port: 80, network: 'mv0', state: 'running', health: 'none', weight: 1, host: 'h1', instance: '000000000-abcdef', seq: n, updatedAt: 1,
      })
    }
  }
  return out
}

const { nginx, statusPort, channel, close } = await startControlChannel('push')
try {
  let gen = 1000
  for (const n of SIZES) {
    const models = [buildModel(endpoints(n, 0), []).model, buildModel(endpoints(n, 7), []).model]
    const text: number[] = []; const http: number[] = []; const delta: number[] = []
    let bytes = 0
    for (let r = 0; r < ROUNDS; r++) {
      const model = models[r % 2]
      let t0 = performance.now()
      const b = buildBatch(model, new Map(), ++gen, true)
      text.push(performance.now() - t0)
      bytes = b.text?.length ?? 0
      t0 = performance.now()
      await channel.push(b.text ?? '')
      http.push(performance.now() - t0)
      const one = buildBatch(models[(r + 1) % 2], b.lines, ++gen, false)
      const line = one.text?.split('\n').find((l) => l.startsWith('svc svc-0 ')) ?? ''
      t0 = performance.now()
      await channel.push(`driftgate 1\ngen ${gen}\n${line}\n`)
      delta.push(performance.now() - t0)
    }
    const st = await channel.get()
    console.log(`${String(n).padStart(6)} × ${PER}: full push ${(bytes / 1048576).toFixed(2)} MiB — batch text ${median(text).toFixed(1)} ms, ` +
      `HTTP (nginx parse + dict write) ${median(http).toFixed(1)} ms, total ${(median(text) + median(http)).toFixed(1)} ms | ` +
      `one-service delta ${median(delta).toFixed(2)} ms | dict ${((st.capacity - st.free) / 1048576).toFixed(1)} MiB used (medians of ${ROUNDS})`)
    // nginx restarted (not reloaded): from nginx serving again to the full
    // state back in its dict, through the renderer's boot-id watch
    const pusher = new LuaPusher(statusPort, silentLogger())
    const model = models[0]
    const g = ++gen
    await pusher.push(model, g)
    let pushed = 0
    pusher.watch(() => { void pusher.push(model, g).then(() => { pushed = performance.now() }, () => undefined) })
    const back: number[] = []
    for (let r = 0; r < 3; r++) {
      pushed = 0
      await nginx.restart()
      const t0 = performance.now()
      await waitFor(async () => pushed > 0 && (await channel.get().catch(() => null))?.generation === g, { what: 'full state back', timeoutMs: 30_000, intervalMs: 5 })
      back.push(pushed - t0)
    }
    pusher.close()
    console.log(`${String(n).padStart(6)} × ${PER}: nginx restarted → full state in its dict again: ${back.map((v) => v.toFixed(0)).join(', ')} ms (boot-id watch + full push)`)
  }
} finally {
  await close()
}
