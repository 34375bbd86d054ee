// A registry or renderer process loads every CLI command, but not dockerode
// (with ssh2 and its WebAssembly heap: ~20-30 MB RSS): only an agent does
// (issue 20, memory by size). Checked in a fresh process from the sources.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

const root = join(import.meta.dirname, '../..')
const loaded = (body: string): string[] => JSON.parse(execFileSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', `
  ${body}
  const { createRequire } = await import('node:module')
  const cache = createRequire(import.meta.url).cache
  console.log(JSON.stringify(['dockerode', 'ssh2'].filter((m) => Object.keys(cache).some((k) => k.includes('/node_modules/' + m + '/')))))
`], { cwd: root, env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' })) as string[]

t.same(loaded(`await import('./src/cli/commands.ts')`), [], 'every command registered, dockerode and ssh2 not loaded')
t.same(loaded(`
  const { createAgent, resolveAgentConfig } = await import('./src/agent/index.ts')
  createAgent(resolveAgentConfig({ hostId: 'h1', nats: 'nats://127.0.0.1:1' }))
`), ['dockerode', 'ssh2'], 'creating an agent loads them')
