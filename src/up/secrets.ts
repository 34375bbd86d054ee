// Local NATS credentials for `driftgate up` and `driftgate demo`: one user per
// role with exactly rolePermissions() (the README's table), passwords fresh
// at every start, in files of mode 0600 in a folder of mode 0700, and a
// nats-server config (also 0600) that nats-server reads with -c. Nothing
// secret goes on a command line: roles read their password file
// (natsPassFile) or get it in memory.
import { randomBytes } from 'node:crypto'
import { chmodSync, lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { rolePermissions, type NatsRole, type RoleIdentity } from '../bus/index.js'
import { PreflightError } from '../core/index.js'

export interface NatsUserSpec { user: string, role: NatsRole, id: RoleIdentity }

export interface NatsUser extends NatsUserSpec { pass: string, passFile: string }

export interface LocalNatsAuth {
  /** nats-server config holding the users (mode 0600). */
  confFile: string
  users: Record<string, NatsUser>
}

/** Creates dir with mode 0700, or tightens an existing real directory of ours to it; refuses a symlink or someone else's. */
export function ensurePrivateDir (dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = lstatSync(dir)
  if (!st.isDirectory()) throw new PreflightError(`${dir} is not a directory (a symbolic link?): remove it and start again`)
  if (process.getuid !== undefined && st.uid !== process.getuid()) throw new PreflightError(`${dir} belongs to uid ${st.uid}, not to us: remove it or choose another folder`)
  chmodSync(dir, 0o700) // mkdir's mode is cut by the umask, and an existing dir keeps its own
}

/** Writes a secret file afresh with mode 0600 (an old file, or a link in its place, is removed first). */
export function writeSecretFile (path: string, text: string): void {
  rmSync(path, { force: true })
  writeFileSync(path, text, { mode: 0o600, flag: 'wx' })
}

/** Where writeLocalNatsAuth puts a user's password. */
export const natsPassFilePath = (dir: string, user: string): string => join(dir, `nats-${user}.pass`)

/** Fresh passwords for each user, their files and the nats-server config, all under dir (0700). */
export function writeLocalNatsAuth (dir: string, specs: NatsUserSpec[]): LocalNatsAuth {
  ensurePrivateDir(dir)
  const users: Record<string, NatsUser> = {}
  for (const s of specs) {
    const pass = randomBytes(24).toString('base64url')
    const passFile = natsPassFilePath(dir, s.user)
    writeSecretFile(passFile, pass + '\n')
    users[s.user] = { ...s, pass, passFile }
  }
  const confFile = join(dir, 'nats-server.conf')
  // JSON is valid nats-server config syntax.
  const conf = {
    authorization: {
      users: Object.values(users).map((u) => ({ user: u.user, password: u.pass, permissions: rolePermissions(u.role, u.id) })),
    },
  }
  writeSecretFile(confFile, `# written by driftgate at ${new Date().toISOString()}: one user per role\n${JSON.stringify(conf, null, 2)}\n`)
  return { confFile, users }
}

/** The users `up` and `demo` run: a registry, one agent per host, one renderer. */
export function localNatsUsers (hosts: string[], renderer: string, prefix = 'driftgate'): NatsUserSpec[] {
  return [
    { user: 'registry', role: 'registry', id: { prefix } },
    ...hosts.map((host): NatsUserSpec => ({ user: `agent-${host}`, role: 'agent', id: { host, prefix } })),
    { user: `renderer-${renderer}`, role: 'renderer', id: { renderer, prefix } },
  ]
}
