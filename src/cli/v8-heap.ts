// V8's old generation in a long-running role (issue 20, memory by size).
// After each full collection V8 lets the old generation grow to up to 4 ×
// what survived before it collects again (more under concurrent marking), so
// a registry allocating ~1,000 messages/s holds 6-7 × its live data. A
// growth percent bounds that ratio without capping the heap: a fleet that
// really holds more (endpoints, tombstones) still gets it, unlike
// --max-old-space-size. The flag is read at every full collection, so
// setting it in the process at start works (measured in bench/memory.ts:
// heap used follows it); NODE_OPTIONS does not accept it.
import { setFlagsFromString } from 'node:v8'

/** percent 0 leaves V8's own heuristics. */
export function setHeapGrowing (percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growing percent ${percent}: a whole number ≥ 0`)
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`)
}
