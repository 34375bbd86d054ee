// Every subcommand, one file each, all loaded (program.ts, for tests). A
// command file exports `register(program)`; names, descriptions and the
// order of help are in command-list.ts (main.ts loads one command from there).
import { register as agent } from './agent.js'
import { register as registry } from './registry.js'
import { register as renderer } from './renderer.js'
import { register as ipam } from './ipam.js'
import { register as apply } from './apply.js'
import { register as scale } from './scale.js'
import { register as status } from './status.js'
import { register as rm } from './rm.js'
import { register as history } from './history.js'
import { register as rollback } from './rollback.js'
import { register as ps } from './ps.js'
import { register as logs } from './logs.js'
import { register as up } from './up.js'
import { register as demo } from './demo.js'
import type { Register } from './command-list.js'

export type { Register }

export const commands: Register[] = [up, demo, agent, registry, renderer, ipam, apply, scale, status, ps, history, rollback, logs, rm]
