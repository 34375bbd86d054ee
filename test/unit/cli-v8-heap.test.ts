// `driftgate registry` and `driftgate renderer` set V8's old-generation
// growth in the process at start (src/cli/v8-heap.ts): checked that it takes
// effect, i.e. a process with ~20 MB live and a fast churn of objects that outlive a scavenge holds
// less heap with it than with V8's own growth (issue 20, memory by size).
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { setHeapGrowing } from '../../src/cli/v8-heap.js'
import { resolveRegistryConfig } from '../../src/registry/index.js'
import { loadRendererConfig } from '../../src/renderer/index.js'

const root = join(import.meta.dirname, '../..')
/** Highest heap used (MB) over 2.5 s of churn, the growth percent set as the registry sets it. */
const peakHeapMb = (percent: number): number => Number(execFileSync(process.execPath, ['--import=tsx', '--max-semi-space-size=16', '--input-type=module', '-e', `
  const { setHeapGrowing } = await import('./src/cli/v8-heap.ts')
  setHeapGrowing(${percent})
  const live = []
  for (let i = 0; i < 100000; i++) live.push({ id: 'k' + i, ip: '10.0.' + (i % 250) + '.' + (i % 200), labels: { a: 'x' + i } })
  let q = []
  let max = 0
  const end = Date.now() + 2500
  const tick = () => {
    for (let i = 0; i < 1000; i++) q.push({ s: 'p' + i + 'x'.repeat(100), a: [i, i, i] })
    if (q.length > 20000) q = q.slice(10000)
    max = Math.max(max, process.memoryUsage().heapUsed)
    if (Date.now() < end) setImmediate(tick); else console.log((max / 1048576).toFixed(1), live.length)
  }
  tick()
`], { cwd: root, env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' }).split(' ')[0])

t.test('the growth percent takes effect in a running process', async (t) => {
  const own = peakHeapMb(0)
  const bounded = peakHeapMb(20)
  t.ok(bounded < own * 0.7, `heap used peak ${bounded} MB with 20 %, ${own} MB with V8's own growth`)
})

t.test('bad values are refused, 0 changes nothing', async (t) => {
  t.throws(() => { setHeapGrowing(-1) }, RangeError)
  t.throws(() => { setHeapGrowing(1.5) }, RangeError)
  t.doesNotThrow(() => { setHeapGrowing(0) })
})

t.test('the registry\'s and the renderer\'s setting: default, env, bounds', async (t) => {
  t.equal(resolveRegistryConfig({}, {}).heapGrowingPercent, 20)
  const renderer = { out: '/tmp/x', nginxConf: '/tmp/x/nginx.conf' }
  t.equal(loadRendererConfig(renderer, {}).heapGrowingPercent, 20)
  t.equal(loadRendererConfig(renderer, { DRIFTGATE_HEAP_GROWING_PERCENT: '50' }).heapGrowingPercent, 50)
  t.equal(resolveRegistryConfig({}, { DRIFTGATE_HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent, 0)
  t.throws(() => resolveRegistryConfig({}, { DRIFTGATE_HEAP_GROWING_PERCENT: '-5' }))
})
