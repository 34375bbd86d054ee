// What a phase allocated (bench/memory.ts FILLPROF=dir writes a sampling heap
// profile of the registry's fill, dead objects included): bytes by the
// allocating function (self) and by the driftgate source frame nearest to it
// (what in our code caused the allocation, through library frames).
//   node bench/heap-prof-summary.mjs file.heapprofile [top=25] [per=N: also bytes per N units]
import { readFileSync } from 'node:fs'

const [file, topArg, perArg] = process.argv.slice(2)
const TOP = Number(topArg ?? 25)
const PER = Number(perArg ?? 0)
const profile = JSON.parse(readFileSync(file, 'utf8'))
const self = new Map()
const ours = new Map()
let total = 0
const name = (f) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${f.lineNumber + 1}`
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v)
function walk (node, nearest) {
  const f = node.callFrame
  const here = /\/(src)\//.test(f.url) && !/node_modules/.test(f.url) ? name(f) : nearest
  const bytes = node.selfSize
  total += bytes
  if (bytes > 0) { add(self, name(f), bytes); add(ours, here ?? '(no driftgate frame)', bytes) }
  for (const c of node.children ?? []) walk(c, here)
}
walk(profile.head, undefined)
const mb = (b) => (b / 1048576).toFixed(1)
const per = (b) => (PER > 0 ? ` ${(b / PER).toFixed(0).padStart(6)} B/unit` : '')
console.log(`${file}: ${mb(total)} MB allocated (sampled)${per(total)}`)
for (const [title, m] of [['by allocating function', self], ['by nearest driftgate frame', ours]]) {
  console.log(`\n${title}:`)
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${mb(v).padStart(7)} MB${per(v)} ${k}`)
}
