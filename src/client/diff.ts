// `apply --dry-run`: the spec a file would apply next to the one the registry
// has, both normalised (defaults filled in) and printed as sorted YAML, with a
// unified-style line diff. Pure.
import { stringify } from 'yaml'
import { checkServiceSpec, stableStringify } from '../core/index.js'

/** The spec as the registry would store it (defaults filled in); throws ValidationError like the API would. */
export function normaliseSpec (spec: Record<string, unknown>): unknown {
  return JSON.parse(stableStringify(checkServiceSpec(structuredClone(spec))))
}

export function specYaml (spec: unknown): string {
  return spec == null ? '' : stringify(JSON.parse(stableStringify(spec)), { sortMapEntries: true })
}

/** Lines prefixed "  ", "- " (only in `before`) or "+ " (only in `after`), by longest common subsequence. */
export function lineDiff (before: string, after: string): string[] {
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n')
  const b = after === '' ? [] : after.replace(/\n$/, '').split('\n')
  const n = a.length
  const m = b.length
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
  const out: string[] = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push(`  ${a[i]}`); i++; j++ } else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push(`- ${a[i++]}`)
    else out.push(`+ ${b[j++]}`)
  }
  while (i < n) out.push(`- ${a[i++]}`)
  while (j < m) out.push(`+ ${b[j++]}`)
  return out
}

export function hasChanges (diff: string[]): boolean { return diff.some((l) => !l.startsWith('  ')) }
