// Commander options generated from a role's JSON schema, so that a default,
// a description or an environment variable is written once, in the schema,
// and `--help` can never disagree with what the role does. A property becomes
// `--kebab-name <arg>` unless it says `cli: false` (tuning knobs: config file
// and environment only, listed in the help's "Tuning" paragraph instead).
import { Option, type Command } from 'commander'
import { envName, kebab, type RoleSchema, type SchemaProp } from '../core/index.js'

const num = (v: string): number => Number(v)
const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

function typeOf (prop: SchemaProp): string | undefined {
  return Array.isArray(prop.type) ? prop.type[0] : prop.type
}

function argName (key: string, prop: SchemaProp): string {
  if (prop.arg != null) return prop.arg
  if (typeof prop.pattern === 'string' && prop.pattern.includes('ms|s|m|h')) return '<duration>'
  const t = typeOf(prop)
  if (t === 'integer' || t === 'number') return key.endsWith('Port') ? '<port>' : '<n>'
  return '<value>'
}

/** How a default reads in help text. */
export function showDefault (value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? '' : value.join(',')
  return String(value)
}

function helpText (key: string, prop: SchemaProp): string {
  const parts = [prop.description ?? '']
  const shown = prop.default !== undefined && typeOf(prop) !== 'boolean' ? showDefault(prop.default) : ''
  if (shown !== '') parts.push(`(default ${shown})`)
  if (prop.enum != null && prop.description?.includes('|') !== true) parts.push(`(${(prop.enum as unknown[]).join(', ')})`)
  if (typeOf(prop) === 'array') parts.push('(repeatable)')
  parts.push(`[env ${envName(key)}]`)
  return parts.filter((p) => p !== '').join(' ')
}

/** The commander Option for one schema property (undefined for `cli: false`). */
export function optionFor (key: string, prop: SchemaProp): Option | undefined {
  if (prop.cli === false) return undefined
  const t = typeOf(prop)
  if (t === 'boolean') {
    // A switch that is on by default is offered as --no-x.
    const flag = prop.default === true ? `--no-${kebab(key)}` : `--${kebab(key)}`
    return new Option(flag, helpText(key, prop))
  }
  const opt = new Option(`--${kebab(key)} ${argName(key, prop)}`, helpText(key, prop))
  if (t === 'integer' || t === 'number') opt.argParser(num)
  if (t === 'array') opt.argParser(collect)
  return opt
}

/** Adds an option per schema property, in schema order; `skip` leaves some to the caller. */
export function addSchemaOptions (cmd: Command, schema: RoleSchema, skip: readonly string[] = []): Command {
  for (const [key, prop] of Object.entries(schema.properties)) {
    if (skip.includes(key)) continue
    const opt = optionFor(key, prop)
    if (opt != null) cmd.addOption(opt)
  }
  return cmd
}

/** "Tuning" help paragraph: the schema's `cli: false` properties with their defaults. */
export function tuningHelp (schema: RoleSchema): string {
  const items = Object.entries(schema.properties)
    .filter(([, p]) => p.cli === false)
    .map(([k, p]) => `  ${k}${p.default !== undefined ? ` (${showDefault(p.default)})` : ''}: ${p.description ?? ''} [env ${envName(k)}]`)
  return items.length === 0 ? '' : `\nTuning (config file or env only):\n${items.join('\n')}\n`
}
