// Every subcommand, one file each. A command file exports `register(program)`.
import type { Command } from 'commander'
import { register as agent } from './agent.js'
import { register as registry } from './registry.js'
import { register as renderer } from './renderer.js'

export type Register = (program: Command) => void

export const commands: Register[] = [agent, registry, renderer]
