// What a V8 heap snapshot is made of (bench/memory.ts SNAP=dir writes them):
// self size by node type and constructor name, and the strings held most
// (by total bytes of equal copies).
//   node bench/heap-summary.mjs file.heapsnapshot [top=25]
// The snapshot is read whole: allow ~3 × its size in memory
// (node --max-old-space-size=8192 for a few hundred MB).
import { readFileSync } from 'node:fs'

const [file, topArg] = process.argv.slice(2)
const TOP = Number(topArg ?? 25)
const snap = JSON.parse(readFileSync(file, 'utf8'))
const fields = snap.snapshot.meta.node_fields
const types = snap.snapshot.meta.node_types[0]
const width = fields.length
const [T, N, S] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f))
const nodes = snap.nodes
const strings = snap.strings

const byName = new Map()
const strs = new Map()
let total = 0
for (let i = 0; i < nodes.length; i += width) {
  const type = types[nodes[i + T]]
  const size = nodes[i + S]
  total += size
  const isString = type === 'string' || type === 'concatenated string' || type === 'sliced string'
  const name = isString ? '(strings)' : type === 'object' || type === 'closure' || type === 'native' ? strings[nodes[i + N]] : `(${strings[nodes[i + N]].slice(0, 40)})`
  const k = `${type}\t${name}`
  const e = byName.get(k) ?? { size: 0, count: 0 }
  e.size += size; e.count++
  byName.set(k, e)
  if (isString) {
    const s = strings[nodes[i + N]].slice(0, 60)
    const x = strs.get(s) ?? { size: 0, count: 0 }
    x.size += size; x.count++
    strs.set(s, x)
  }
}
const mb = (b) => (b / 1048576).toFixed(1)
console.log(`${file}: ${nodes.length / width} nodes, ${mb(total)} MB self size`)
console.log('\nby type and name (self size):')
for (const [k, e] of [...byName].sort((a, b) => b[1].size - a[1].size).slice(0, TOP)) {
  console.log(`  ${mb(e.size).padStart(7)} MB ${String(e.count).padStart(9)} × ${k.replace('\t', ' ')}`)
}
console.log('\nstrings by total size of equal copies:')
for (const [s, e] of [...strs].sort((a, b) => b[1].size - a[1].size).slice(0, TOP)) {
  console.log(`  ${mb(e.size).padStart(7)} MB ${String(e.count).padStart(9)} × ${JSON.stringify(s)}`)
}
