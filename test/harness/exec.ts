// Shim: exec.ts moved to src/lab/exec.ts; image.ts (moved to src/lab on
// another branch) still imports './exec.js' here until that merge.
export { run, tryRun } from '../../src/lab/index.js'
