// Configuration: flags > DRIFTGATE_* environment > YAML file (--config) >
// schema defaults. Validated once by the role's JSON schema, every problem
// reported in one error, then frozen.
import { readFileSync } from 'node:fs'
import { ajv, toProblems } from './validate.js'
import { ConfigError, ValidationError } from './errors.js'
import { readYaml } from './yaml.js'

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json }

/**
 * One option of a role: a JSON-schema property plus what the command line
 * shows. `description` becomes the --help text (with the default and the
 * env variable appended); `arg` names the value (`<duration>`); `cli: false`
 * keeps a tuning knob off the command line (config file and env only).
 */
export interface SchemaProp {
  type?: string | string[]
  items?: { type?: string, [k: string]: unknown }
  default?: unknown
  description?: string
  arg?: string
  cli?: false
  pattern?: string
  enum?: readonly unknown[]
  [k: string]: unknown
}
export interface RoleSchema {
  type: 'object'
  properties: Record<string, SchemaProp>
  required?: string[]
  additionalProperties?: boolean
}

/** camelCase key → DRIFTGATE_SNAKE_CASE variable name. */
export function envName (key: string): string {
  return 'DRIFTGATE_' + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()
}

// Environment variables are strings; turn them into the type the schema wants
// so that `DRIFTGATE_HTTP_PORT=7070` validates as an integer.
function fromEnv (raw: string, prop: SchemaProp): unknown {
  const type = Array.isArray(prop.type) ? prop.type[0] : prop.type
  if (type === 'integer' || type === 'number') return raw.trim() === '' ? raw : Number(raw)
  if (type === 'boolean') return ['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())
  if (type === 'array') return raw.split(',').map((s) => s.trim()).filter(Boolean)
  return raw
}

function readFile (path: string, role: string): Record<string, unknown> {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch (err) {
    throw new ConfigError(role, [{ field: '--config', message: `cannot read ${path}: ${(err as Error).message}` }])
  }
  let doc: unknown
  try {
    doc = readYaml(text, path)
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    throw new ConfigError(role, [{ field: '--config', message: `${path}: ${err.problems.map((p) => p.message).join('; ')}` }])
  }
  if (doc == null) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(role, [{ field: '--config', message: `${path} must hold a mapping of options` }])
  }
  return doc as Record<string, unknown>
}

function deepFreeze<T> (value: T): Readonly<T> {
  if (value != null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

export interface LoadOptions {
  role: string
  schema: RoleSchema
  /** Values given on the command line (undefined = not given). */
  flags?: Record<string, unknown>
  env?: NodeJS.ProcessEnv
  /** Path of a YAML file; usually flags.config. */
  file?: string
}

export function loadConfig<T> (opts: LoadOptions): Readonly<T> {
  const env = opts.env ?? process.env
  const merged: Record<string, unknown> = opts.file != null ? readFile(opts.file, opts.role) : {}
  for (const [key, prop] of Object.entries(opts.schema.properties)) {
    const raw = env[envName(key)]
    if (raw !== undefined) merged[key] = fromEnv(raw, prop)
  }
  for (const [key, value] of Object.entries(opts.flags ?? {})) {
    if (value !== undefined && key !== 'config') merged[key] = value
  }
  const validate = ajv.compile({ ...opts.schema, additionalProperties: opts.schema.additionalProperties ?? false })
  if (!validate(merged)) {
    const problems = toProblems(validate.errors).map((p) => {
      const key = p.field.replace(/^\//, '').split('/')[0]
      return { field: key !== '' ? `${key} (--${kebab(key)} / ${envName(key)})` : p.field, message: p.message }
    })
    throw new ConfigError(opts.role, problems)
  }
  return deepFreeze(merged as T)
}

export function kebab (key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}
