// Readers for the files under deploy/: systemd units (a small INI parser with
// systemd's continuation lines), their command lines, the driftgate command
// tree with every action replaced, so a command line is parsed by the CLI's
// own options without starting anything, and a throw-away NATS trust chain
// for checking the nats-server configs.
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { Command } from 'commander'
import { nkeys } from 'nats'
import { captureProgram } from './cli-fixtures.js'
import { explicitFlags } from '../../src/cli/common.js'

type KeyPair = ReturnType<typeof nkeys.createOperator>

export const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy')

/** section → key → every value given (systemd keys such as LoadCredential repeat). */
export type Unit = Record<string, Record<string, string[]>>

export function parseUnit (text: string): Unit {
  const unit: Unit = {}
  let section: Record<string, string[]> | undefined
  // A trailing backslash continues the line (systemd.syntax(7)).
  const lines = text.replace(/\\\n/g, ' ').split('\n')
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const head = /^\[([A-Za-z]+)\]$/.exec(line)
    if (head != null) {
      if (unit[head[1]] != null) throw new Error(`line ${i + 1}: section [${head[1]}] twice`)
      section = unit[head[1]] = {}
      continue
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line)
    if (kv == null || section == null) throw new Error(`line ${i + 1}: not a key=value in a section: ${line}`)
    ;(section[kv[1]] ??= []).push(kv[2].trim())
  }
  return unit
}

export const readUnit = (name: string): Unit => parseUnit(readFileSync(join(DEPLOY, 'systemd', name), 'utf8'))

/** The last value of a key (a later assignment wins, an empty one resets). */
export const last = (u: Unit, section: string, key: string): string | undefined => u[section]?.[key]?.at(-1)

/** systemd's specifiers that our units use, with sample values. */
export function expandSpecifiers (s: string, instance = 'main'): string {
  return s.replace(/%([a-zA-Z%])/g, (_, c: string) => {
    if (c === 'i' || c === 'I') return instance
    if (c === 'd') return `/run/credentials/unit-${instance}`
    if (c === '%') return '%'
    throw new Error(`specifier %${c} has no sample value in the test`)
  })
}

/** An ExecStart= value as argv: whitespace separated, "…" and '…' quoted. */
export function splitCommand (line: string): string[] {
  const argv: string[] = []
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) argv.push(m[1] ?? m[2] ?? m[3])
  return argv
}

export interface Parsed { role: string, flags: Record<string, unknown> }

/**
 * Parses `driftgate <role> …` with the real command tree, every action
 * replaced by a no-op. Rejects with commander's error (unknown option,
 * missing argument, unknown command).
 */
export async function parseRoleArgs (args: string[]): Promise<Parsed> {
  const { p } = captureProgram()
  let hit: Command | undefined
  for (const c of p.commands) c.action((_opts: unknown, self: Command) => { hit = self })
  try {
    await p.parseAsync(args, { from: 'user' })
  } catch (err) {
    throw new Error((err as Error).message, { cause: err })
  }
  if (hit === undefined) throw new Error(`no role command ran for: ${args.join(' ')}`)
  return { role: hit.name(), flags: explicitFlags(hit) }
}

/** Flags that would put a secret's value on a command line (visible in ps). */
export const SECRET_VALUE_FLAGS = ['--nats-pass', '--nats-token', '--api-token', '--api-read-token']

/** A JWT signed the way nsc signs them (ed25519 nkey), for throw-away test trust chains. */
function natsJwt (issuer: KeyPair, claims: Record<string, unknown>): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const jti = randomBytes(16).toString('hex').toUpperCase()
  const body = `${b64({ typ: 'JWT', alg: 'ed25519-nkey' })}.${b64({ jti, iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), ...claims })}`
  return `${body}.${Buffer.from(issuer.sign(Buffer.from(body))).toString('base64url')}`
}

/**
 * A resolver.conf as `nsc generate config --mem-resolver` writes it, for a
 * throw-away operator with a system account and one JetStream account, so
 * nats-server can check the deploy/nats configs that include it.
 */
export function throwawayResolverConf (): string {
  const op = nkeys.createOperator()
  const sys = nkeys.createAccount()
  const acc = nkeys.createAccount()
  const limits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 }
  const js = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 }
  const account = (kp: KeyPair, name: string, extra: object): string => natsJwt(op, {
    name, sub: kp.getPublicKey(), nats: { limits: { ...limits, ...extra }, default_permissions: { pub: {}, sub: {} }, type: 'account', version: 2 },
  })
  const operator = natsJwt(op, { name: 'test', sub: op.getPublicKey(), nats: { type: 'operator', system_account: sys.getPublicKey(), version: 2 } })
  return [
    `operator: ${operator}`,
    `system_account: ${sys.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${sys.getPublicKey()}: ${account(sys, 'SYS', {})}`,
    `  ${acc.getPublicKey()}: ${account(acc, 'DRIFTGATE', js)}`,
    '}',
    '',
  ].join('\n')
}
