// How long a 3-host testbed takes to come up and to go away: the fixed cost
// every integration test that needs one pays. Prints each run and the median.
//   node --import=tsx bench/testbed-timing.ts [runs] [hosts]
import { Testbed, testbedLeftovers } from '../test/harness/index.js'

const runs = Number(process.argv[2] ?? 3)
const hosts = Number(process.argv[3] ?? 3)

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function once(): Promise<{ up: number; firstContainer: number; down: number }> {
  let t = performance.now()
  const tb = await Testbed.create({ hosts, name: 'bench' })
  const up = performance.now() - t
  t = performance.now()
  const id = await tb.run('h1')
  const ip = await tb.ipOf('h1', id)
  for (let i = 0; i < 100; i++) { // until its httpd answers on the LAN
    if (await fetch(`http://${ip}/`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false)) break
  }
  const firstContainer = performance.now() - t
  t = performance.now()
  await tb.teardown()
  const down = performance.now() - t
  const left = await testbedLeftovers(tb)
  if (left.length) throw new Error(`leftovers: ${left.join(', ')}`)
  return { up, firstContainer, down }
}

const results: Awaited<ReturnType<typeof once>>[] = []
for (let i = 0; i < runs; i++) {
  const r = await once()
  results.push(r)
  console.log(`run ${i + 1}: up ${r.up.toFixed(0)} ms, first container answering ${r.firstContainer.toFixed(0)} ms, down ${r.down.toFixed(0)} ms`)
}
const m = (k: 'up' | 'firstContainer' | 'down') => median(results.map((r) => r[k])).toFixed(0)
console.log(`${hosts}-host testbed, median of ${runs}: up ${m('up')} ms, first container ${m('firstContainer')} ms, down ${m('down')} ms`)
