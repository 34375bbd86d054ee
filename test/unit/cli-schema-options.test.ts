// The command line is generated from the roles' schemas: every default,
// description and env name shows in --help, and a default changed in the
// schema changes --help (nothing is written twice).
import t from 'tap'
import { Command } from 'commander'
import { agentSchema } from '../../src/agent/index.js'
import { registrySchema } from '../../src/registry/index.js'
import { rendererSchema } from '../../src/renderer/index.js'
import { envName, kebab, type RoleSchema } from '../../src/core/index.js'
import { addRoleOptions } from '../../src/cli/common.js'
import { showDefault } from '../../src/cli/schema-options.js'
import { buildProgram } from '../../src/cli/program.js'

function helpOf (name: string): string {
  const cmd = buildProgram().commands.find((c) => c.name() === name)!
  let out = ''
  cmd.configureOutput({ writeOut: (s) => { out += s } })
  cmd.outputHelp()
  return out.replace(/\s+/g, ' ')
}

const roles: Array<[string, RoleSchema]> = [['agent', agentSchema], ['registry', registrySchema], ['renderer', rendererSchema]]

for (const [role, schema] of roles) {
  t.test(`${role} --help shows every schema option with its default and env`, async (t) => {
    const help = helpOf(role)
    for (const [key, prop] of Object.entries(schema.properties)) {
      t.ok(typeof prop.description === 'string' && prop.description.length > 0, `${key} has a description`)
      t.match(help, envName(key), `${key}: env variable named`)
      if (prop.cli === false) {
        t.notMatch(help, `--${kebab(key)} `, `${key}: tuning knob, not a flag`)
        if (prop.default !== undefined) t.match(help, `${key} (${showDefault(prop.default)})`, `${key}: default in the tuning list`)
        continue
      }
      const flag = prop.default === true ? `--no-${kebab(key)}` : `--${kebab(key)}`
      t.match(help, flag, `${key}: ${flag}`)
      if (prop.default !== undefined && typeof prop.default !== 'boolean' && showDefault(prop.default) !== '') {
        t.match(help, `(default ${showDefault(prop.default)})`, `${key}: default shown`)
      }
    }
  })
}

t.test('a default changed in the schema shows in --help', async (t) => {
  const changed: RoleSchema = {
    type: 'object',
    properties: { ...registrySchema.properties, hostGrace: { ...registrySchema.properties.hostGrace, default: '77s' } },
  }
  const cmd = addRoleOptions(new Command('registry'), changed)
  let out = ''
  cmd.configureOutput({ writeOut: (s) => { out += s } })
  cmd.outputHelp()
  t.match(out.replace(/\s+/g, ' '), '--host-grace <duration> a silent host is down (its endpoints removed) after this long (default 77s)')
  // (another option, --standby-hold, has a 30s default of its own)
  t.notMatch(out.replace(/\s+/g, ' '), /--host-grace <duration> [^-]*\(default 30s\)/)
})

t.test('numbers and repeatable options are parsed as the schema types them', async (t) => {
  const cmd = addRoleOptions(new Command('registry'), registrySchema)
  cmd.parseOptions(['--http-port', '9000', '--dns-forward', '10.0.0.1', '--dns-forward', '10.0.0.2:53', '--no-placement'])
  t.match(cmd.opts(), { httpPort: 9000, dnsForward: ['10.0.0.1', '10.0.0.2:53'], placement: false })
})
