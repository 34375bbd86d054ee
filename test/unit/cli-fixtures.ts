// The driftgate command tree with exits turned into exceptions and all output
// captured, so CLI tests can parse arguments without ending the process.
import { buildProgram } from '../../src/cli/program.js'

export function captureProgram (): { p: ReturnType<typeof buildProgram>, out: () => string } {
  let out = ''
  const capture = { writeOut: (s: string) => { out += s }, writeErr: (s: string) => { out += s } }
  const p = buildProgram().exitOverride()
  p.configureOutput(capture)
  for (const c of p.commands) c.exitOverride().configureOutput(capture)
  return { p, out: () => out }
}
