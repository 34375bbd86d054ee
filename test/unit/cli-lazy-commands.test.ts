// main.ts loads only the command it runs (src/cli/program-lazy.ts): the
// others are a name and a description for --help. Checked: help reads
// exactly as with every command loaded, each command loaded alone is the
// same command, and a registry process does not load the agent's, the
// renderer's, the lab's or the client commands' modules (issue 20, memory
// by size).
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import type { Command } from 'commander'
import { buildProgram } from '../../src/cli/program.js'
import { buildProgramFor } from '../../src/cli/program-lazy.js'
import { commandList, commandOf } from '../../src/cli/command-list.js'

const root = join(import.meta.dirname, '../..')
const sub = (p: Command, name: string): Command => p.commands.find((c) => c.name() === name)!

t.test('the command list is the full tree: names, order, descriptions', async (t) => {
  const full = buildProgram()
  t.same(commandList.map((c) => c.name), full.commands.map((c) => c.name()))
  for (const c of full.commands) t.equal(sub(full, c.name()).description(), commandList.find((e) => e.name === c.name())?.description, c.name())
})

t.test('driftgate --help reads the same with no command loaded', async (t) => {
  const full = buildProgram().helpInformation()
  for (const args of [[], ['--help'], ['-V'], ['help'], ['nosuch']]) {
    const lazy = await buildProgramFor(args)
    t.equal(lazy.helpInformation(), full, args.join(' ') || '(none)')
    t.same(lazy.commands.map((c) => c.options.length), commandList.map(() => 0), 'no command loaded')
  }
  t.match(full, /scale \[options\] <service=replicas\.\.\.>\s+set the replica count/, 'usage of a command with arguments')
})

t.test('each command loaded alone is the command of the full tree', async (t) => {
  const full = buildProgram()
  for (const { name } of commandList) {
    for (const args of [[name], [name, '--help'], ['help', name]]) {
      const lazy = await buildProgramFor(args)
      t.equal(sub(lazy, name).helpInformation(), sub(full, name).helpInformation(), args.join(' '))
      t.equal(lazy.commands.filter((c) => c.options.length > 0 || c.commands.length > 0).length <= 1, true, 'only it')
    }
  }
  const lazy = await buildProgramFor(['ipam', 'pool', 'ls'])
  t.equal(sub(sub(sub(lazy, 'ipam'), 'pool'), 'ls').helpInformation(), sub(sub(sub(full, 'ipam'), 'pool'), 'ls').helpInformation(), 'nested commands too')
})

t.test('commandOf', async (t) => {
  t.equal(commandOf(['registry', '--nats', 'nats://x']), 'registry')
  t.equal(commandOf(['--help']), undefined)
  t.equal(commandOf([]), undefined)
  t.equal(commandOf(['help', 'renderer']), 'renderer')
  t.equal(commandOf(['help']), undefined)
})

/** The src/ folders a fresh process loads to build the program for `args`. */
const loadedDirs = (args: string[]): string[] => JSON.parse(execFileSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', `
  import { registerHooks } from 'node:module'
  const seen = new Set()
  registerHooks({ load (url, ctx, next) { seen.add(url); return next(url, ctx) } })
  const { buildProgramFor } = await import('./src/cli/program-lazy.ts')
  await buildProgramFor(${JSON.stringify(args)})
  const src = ${JSON.stringify(`file://${root}/src/`)}
  const dirs = [...seen].filter((u) => u.startsWith(src)).map((u) => u.slice(src.length).split('/')).filter((p) => p.length > 1).map((p) => p[0])
  console.log(JSON.stringify([...new Set(dirs)].sort()))
`], { cwd: root, env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' })) as string[]

t.test('a registry process loads no other role', async (t) => {
  const dirs = loadedDirs(['registry', '--nats', 'nats://127.0.0.1:4222'])
  t.ok(dirs.includes('registry'), `registry loaded: ${dirs.join(',')}`)
  for (const other of ['agent', 'renderer', 'up', 'demo', 'client', 'lab']) t.notOk(dirs.includes(other), `${other} not loaded`)
  const renderer = loadedDirs(['renderer'])
  t.ok(renderer.includes('renderer'))
  for (const other of ['agent', 'registry', 'up', 'demo']) t.notOk(renderer.includes(other), `renderer: ${other} not loaded`)
  const help = loadedDirs(['--help'])
  t.same(help.filter((d) => d !== 'cli' && d !== 'core'), [], `--help: cli and core only (${help.join(',')})`)
})
