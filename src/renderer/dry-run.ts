// `--dry-run`: what a render would change in --out, as a unified diff
// (`diff -u` style, 3 lines of context), per file. Pure.

const CONTEXT = 3
/** Above this many cells the middle of a file is shown as replaced whole (LCS is O(n·m)). */
const MAX_CELLS = 4_000_000

type Op = [' ' | '-' | '+', string]

function lines (text: string | undefined): string[] {
  return text == null || text === '' ? [] : text.replace(/\n$/, '').split('\n')
}

/** Line operations turning `a` into `b`: common prefix/suffix kept, LCS in between. */
export function lineOps (a: string[], b: string[]): Op[] {
  let pre = 0
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++
  let suf = 0
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++
  const x = a.slice(pre, a.length - suf)
  const y = b.slice(pre, b.length - suf)
  const mid: Op[] = []
  if (x.length * y.length > MAX_CELLS) {
    for (const l of x) mid.push(['-', l])
    for (const l of y) mid.push(['+', l])
  } else {
    const m = y.length
    const lcs = new Uint32Array((x.length + 1) * (m + 1))
    for (let i = x.length - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * (m + 1) + j] = x[i] === y[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1])
      }
    }
    let i = 0
    let j = 0
    while (i < x.length && j < m) {
      if (x[i] === y[j]) { mid.push([' ', x[i]]); i++; j++ } else if (lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) mid.push(['-', x[i++]])
      else mid.push(['+', y[j++]])
    }
    while (i < x.length) mid.push(['-', x[i++]])
    while (j < m) mid.push(['+', y[j++]])
  }
  return [...a.slice(0, pre).map((l): Op => [' ', l]), ...mid, ...a.slice(a.length - suf).map((l): Op => [' ', l])]
}

/** One file's diff with `@@` hunks; '' when equal. */
export function fileDiff (name: string, before: string | undefined, after: string | undefined): string {
  if (before === after) return ''
  const ops = lineOps(lines(before), lines(after))
  const out = [`--- ${before == null ? '/dev/null' : `a/${name}`}`, `+++ ${after == null ? '/dev/null' : `b/${name}`}`]
  let k = 0
  while (k < ops.length) {
    if (ops[k][0] === ' ') { k++; continue }
    // a hunk: changes closer than 2·CONTEXT lines apart share one
    const start = Math.max(0, k - CONTEXT)
    let end = k
    for (let q = k; q < ops.length; q++) {
      if (ops[q][0] !== ' ') end = q
      else if (q - end > 2 * CONTEXT) break
    }
    const stop = Math.min(ops.length, end + CONTEXT + 1)
    let aLine = 1; let bLine = 1
    for (let q = 0; q < start; q++) { if (ops[q][0] !== '+') aLine++; if (ops[q][0] !== '-') bLine++ }
    const hunk = ops.slice(start, stop)
    const aLen = hunk.filter((o) => o[0] !== '+').length
    const bLen = hunk.filter((o) => o[0] !== '-').length
    out.push(`@@ -${aLen === 0 ? aLine - 1 : aLine},${aLen} +${bLen === 0 ? bLine - 1 : bLine},${bLen} @@`)
    for (const [op, l] of hunk) out.push(`${op}${l}`)
    k = stop
  }
  return out.join('\n') + '\n'
}

/** Every file that differs between `current` and `desired` (a file absent from `desired` is deleted), by name. */
export function unifiedDiff (current: ReadonlyMap<string, string>, desired: ReadonlyMap<string, string>, dir: string): string {
  const names = [...new Set([...current.keys(), ...desired.keys()])].sort()
  const parts: string[] = []
  for (const n of names) {
    const d = fileDiff(`${dir.replace(/\/$/, '')}/${n}`.replace(/^\//, ''), current.get(n), desired.get(n))
    if (d !== '') parts.push(d)
  }
  return parts.join('')
}
