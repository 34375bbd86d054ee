// A failing test must leave nothing behind. Each case runs
// test/harness/fixtures/failing-testbed.ts in a child process that starts a
// testbed, nats-server and nginx and then fails in its own way; the child must
// fail, and afterwards nothing of what it started may remain.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { dirLeftovers, testbedLeftovers, tsLoaderArgs, waitFor } from '../harness/index.js'

const fixture = fileURLToPath(new URL('../harness/fixtures/failing-testbed.ts', import.meta.url))
const tmp = mkdtempSync('/tmp/dgfail-')
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

interface Info { id: string; dir: string; natsDir: string; nginxDir: string }

// The child must behave like a standalone run, not like a tap subprocess.
const childEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', TS_NODE_TRANSPILE_ONLY: '1' }
  for (const k of Object.keys(env)) if (k.startsWith('TAP')) delete env[k]
  return env
}

async function runChild(mode: string, infoFile: string, killWith?: NodeJS.Signals) {
  const child = spawn(process.execPath, [...tsLoaderArgs(), fixture, mode, infoFile], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })))
  if (killWith) {
    await waitFor(() => existsSync(infoFile) && output.includes('ready'), { timeoutMs: 120_000, what: `child (${mode}) to come up` })
    child.kill(killWith)
  }
  const res = await exited
  return { ...res, output }
}

async function allLeftovers(info: Info): Promise<string[]> {
  return [...(await testbedLeftovers(info)), ...dirLeftovers(info.natsDir), ...dirLeftovers(info.nginxDir)]
}

for (const [mode, sig] of [['throw'], ['tap'], ['sigkill', 'SIGKILL'], ['sigterm', 'SIGTERM']] as const) {
  t.test(`failing child (${mode}) leaves nothing behind`, async (t) => {
    const infoFile = join(tmp, `${mode}.json`)
    const res = await runChild(mode, infoFile, sig as NodeJS.Signals | undefined)
    t.ok(res.code !== 0, `child failed (code ${res.code}, signal ${res.signal})`)
    if (!t.ok(existsSync(infoFile), 'child got as far as starting everything')) t.comment(res.output)
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as Info
    // In-process teardown (tap, sigterm) is done at exit; the reaper needs a moment.
    const left = await waitFor(async () => { const l = await allLeftovers(info); return l.length === 0 ? l : false }, { timeoutMs: 60_000, what: 'leftovers to go' })
      .catch(async () => allLeftovers(info))
    t.same(left, [], `nothing of testbed ${info.id} remains`)
    if (mode === 'tap') t.match(res.output, /deliberate failure/, 'the tap assertion failed')
  })
}
