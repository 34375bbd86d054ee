// The files an operator copies from deploy/: every systemd unit and compose
// file is well formed and hardened, every command line in them is accepted by
// the CLI's own parser, and every config example they reference validates
// against its role's schema together with the flags of that command line.
import t from 'tap'
import { readFileSync, readdirSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { loadConfig, type RoleSchema } from '../../src/core/index.js'
import { agentSchema } from '../../src/agent/index.js'
import { registrySchema } from '../../src/registry/index.js'
import { rendererSchema } from '../../src/renderer/index.js'
import {
  DEPLOY, SECRET_VALUE_FLAGS, expandSpecifiers, last, parseRoleArgs, readUnit, splitCommand, throwawayResolverConf, type Unit,
} from './deploy-fixtures.js'

const schemas: Record<string, RoleSchema> = { agent: agentSchema, registry: registrySchema, renderer: rendererSchema }

/** Validates a role's config file with the command line's flags, as the role's action would. */
function validate (role: string, file: string, flags: Record<string, unknown>): Record<string, unknown> {
  return loadConfig<Record<string, unknown>>({ role, schema: schemas[role], flags, file, env: {} })
}

interface UnitCase { file: string, role: string, example: string, caps: string, families?: string }
const units: UnitCase[] = [
  { file: 'driftgate-registry.service', role: 'registry', example: 'registry.yaml', caps: '' },
  // The MacVLAN shim (iproute2 over netlink) and the containers' DNS stub on port 53.
  { file: 'driftgate-agent.service', role: 'agent', example: 'agent.yaml', caps: 'CAP_NET_ADMIN CAP_NET_BIND_SERVICE', families: 'AF_UNIX AF_INET AF_INET6 AF_NETLINK' },
  { file: 'driftgate-renderer@.service', role: 'renderer', example: 'renderer.yaml', caps: 'CAP_KILL CAP_DAC_OVERRIDE' },
]

// What every unit must set; the value, or a pattern for it.
const hardening: Record<string, string | RegExp> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  PrivateDevices: 'yes',
  ProtectKernelTunables: 'yes',
  ProtectKernelModules: 'yes',
  ProtectKernelLogs: 'yes',
  ProtectControlGroups: 'yes',
  RestrictNamespaces: 'yes',
  RestrictSUIDSGID: 'yes',
  LockPersonality: 'yes',
  RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
  SystemCallArchitectures: 'native',
  AmbientCapabilities: '',
  Restart: 'on-failure',
  TimeoutStopSec: /^\d+s$/,
}

const execStart = (u: Unit): string[] => splitCommand(expandSpecifiers(last(u, 'Service', 'ExecStart') ?? ''))

t.test('no file in deploy/systemd goes untested', async (t) => {
  t.same(readdirSync(join(DEPLOY, 'systemd')).sort(), units.map((u) => u.file).sort())
})

for (const c of units) {
  t.test(`${c.file}: hardened, secrets as credential files`, async (t) => {
    const u = readUnit(c.file)
    t.ok(u.Unit?.Description, '[Unit] Description')
    t.same(u.Install?.WantedBy, ['multi-user.target'])
    for (const [key, want] of Object.entries(hardening)) {
      const got = last(u, 'Service', key)
      if (key === 'RestrictAddressFamilies' && c.families !== undefined) t.equal(got, c.families, key)
      else if (typeof want === 'string') t.equal(got, want, key)
      else t.match(got, want, key)
    }
    t.ok(u.Service.SystemCallFilter?.includes('@system-service'), 'SystemCallFilter=@system-service')
    t.equal(last(u, 'Service', 'CapabilityBoundingSet'), c.caps, 'only the capabilities the role needs')
    t.equal(last(u, 'Service', 'MemoryDenyWriteExecute'), undefined, 'Node\'s JIT needs W+X memory')
    const creds = (u.Service.LoadCredential ?? []).map((v) => v.split(':')[0])
    t.ok(creds.includes('nats.creds'), 'NATS creds come as a systemd credential')
    const argv = execStart(u)
    t.equal(argv[0], '/usr/local/bin/driftgate')
    t.equal(argv[argv.indexOf('--nats-creds') + 1], expandSpecifiers('%d/nats.creds'))
    for (const flag of SECRET_VALUE_FLAGS) t.notOk(argv.includes(flag), `no ${flag} value on the command line`)
    for (const env of u.Service.EnvironmentFile ?? []) t.match(env, /^-\/etc\/driftgate\//, 'optional env file of secrets without a file flag')
    // issue 20, memory by size: V8's young generation bounded (docs/scaling.md)
    if (c.role !== 'agent') t.ok((u.Service.Environment ?? []).includes('NODE_OPTIONS=--max-semi-space-size=16'), 'node with 16 MB semi-spaces')
  })

  t.test(`${c.file}: ExecStart parses and ${c.example} validates with it`, async (t) => {
    const argv = execStart(readUnit(c.file))
    const { role, flags } = await parseRoleArgs(argv.slice(1))
    t.equal(role, c.role)
    t.match(flags.config, new RegExp(`^/etc/driftgate/${c.role}(-main)?\\.yaml$`))
    const cfg = validate(role, join(DEPLOY, 'config', c.example), flags)
    t.equal(cfg.natsCreds, flags.natsCreds)
    if (role === 'registry') t.equal(cfg.replicas, 3, 'three copies on the 3-node cluster')
  })
}

t.test('the parser refuses what commander refuses', async (t) => {
  await t.rejects(parseRoleArgs(['registry', '--no-such-flag']), /unknown option/)
  await t.rejects(parseRoleArgs(['agent', '--config']), /argument missing/)
  t.throws(() => validate('renderer', join(DEPLOY, 'config', 'agent.yaml'), {}), /unknown field/)
})

interface Service {
  image?: string, init?: boolean, command?: string[], volumes?: string[], secrets?: string[], pid?: string, network_mode?: string
}
interface Compose { services: Record<string, Service>, volumes?: Record<string, unknown>, secrets?: Record<string, { file: string }> }
const readCompose = (name: string): Compose =>
  parseYaml(readFileSync(join(DEPLOY, 'compose', name), 'utf8'), { merge: true }) as Compose

/** A service's mounts: target → source (a volume name, or an absolute host path). */
function mounts (s: Service): Map<string, string> {
  const m = new Map<string, string>()
  for (const v of s.volumes ?? []) {
    const [src, target] = v.split(':')
    m.set(target, src.startsWith('.') ? resolve(join(DEPLOY, 'compose'), src) : src)
  }
  return m
}

/** Host source of the mount holding `path` inside a container. */
function sourceOf (s: Service, path: string): { target: string, source: string } | undefined {
  const hits = [...mounts(s)].filter(([target]) => path === target || path.startsWith(target + '/'))
  const best = hits.sort((a, b) => b[0].length - a[0].length)[0]
  return best === undefined ? undefined : { target: best[0], source: best[1] }
}

t.test('compose files: services, images, references', async (t) => {
  const expected: Record<string, string[]> = {
    'control-plane.yml': ['nats-1', 'nats-2', 'nats-3', 'registry'],
    'edge.yml': ['nginx', 'renderer'],
  }
  for (const [file, names] of Object.entries(expected)) {
    const doc = readCompose(file)
    t.same(Object.keys(doc.services).sort(), names.sort(), `${file} services`)
    for (const [name, s] of Object.entries(doc.services)) {
      t.match(s.image, /^(driftgate:local|nats:2\.9)$/, `${file} ${name} image`)
      for (const [target, source] of mounts(s)) {
        if (source.startsWith('/')) t.ok(existsSync(source), `${file} ${name}: ${source} exists (for ${target})`)
        else t.ok(doc.volumes?.[source] !== undefined, `${file} ${name}: volume ${source} declared`)
      }
      for (const secret of s.secrets ?? []) t.ok(doc.secrets?.[secret], `${file} ${name}: secret ${secret} declared`)
      for (const flag of SECRET_VALUE_FLAGS) t.notOk(s.command?.includes(flag), `${file} ${name}: no ${flag} value`)
    }
  }
  const cp = readCompose('control-plane.yml')
  for (const n of [1, 2, 3]) {
    const s = cp.services[`nats-${n}`]
    const conf = s.command?.[s.command.indexOf('--config') + 1] ?? ''
    const src = sourceOf(s, conf)
    t.ok(src !== undefined && existsSync(join(src.source, conf.slice(src.target.length))), `nats-${n} config ${conf} is mounted`)
  }
})

/** The role command of a compose service: parsed, and its --config validated from the mounted file. */
async function composeRole (file: string, name: string): Promise<Record<string, unknown>> {
  const s = readCompose(file).services[name]
  const { role, flags } = await parseRoleArgs(s.command ?? [])
  if (role !== name) throw new Error(`${file} ${name} runs driftgate ${role}`)
  const src = sourceOf(s, String(flags.config))
  if (src === undefined) throw new Error(`${file} ${name}: --config ${String(flags.config)} is not mounted`)
  return validate(role, join(src.source, String(flags.config).slice(src.target.length)), flags)
}

t.test('control-plane.yml: the registry command parses, its config validates against the cluster', async (t) => {
  const cfg = await composeRole('control-plane.yml', 'registry')
  t.equal(cfg.replicas, 3)
  t.equal(cfg.nats, 'nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222', 'every NATS service, by its compose name')
  t.equal(cfg.natsCreds, '/run/secrets/registry.creds')
  t.equal(cfg.apiTokenFile, '/run/secrets/api-tokens')
})

t.test('edge.yml: the renderer sees what nginx loads, in nginx\'s pid and network namespaces', async (t) => {
  const { services } = readCompose('edge.yml')
  const { nginx, renderer } = services
  t.equal(renderer.pid, 'service:nginx', 'SIGHUP reaches the nginx master')
  t.equal(renderer.network_mode, 'service:nginx', 'the status port on nginx\'s loopback')
  t.equal(nginx.init, true, 'the nginx master is not pid 1, which the renderer never signals')
  const cfg = await composeRole('edge.yml', 'renderer')
  const at = (s: Service, path: string): string | undefined => {
    const src = sourceOf(s, path)
    return src === undefined ? undefined : join(src.source, path.slice(src.target.length))
  }
  const nginxConf = String(cfg.nginxConf)
  t.ok(at(renderer, nginxConf) !== undefined && at(renderer, nginxConf) === at(nginx, nginxConf), 'same main config')
  t.equal(at(renderer, String(cfg.out)), at(nginx, String(cfg.out)), 'same generated folder')
  // The pid file nginx writes (its conf's pid directive) is the file the renderer reads.
  const confText = readFileSync(at(nginx, nginxConf) ?? '', 'utf8')
  const pid = /^\s*pid\s+([^;\s]+)\s*;/m.exec(confText)?.[1] ?? ''
  t.ok(pid !== '' && at(nginx, pid) !== undefined, `nginx's pid file ${pid} is on a shared volume`)
  t.equal(at(renderer, String(cfg.nginxPid)), at(nginx, pid), 'renderer --nginx-pid is that file')
})

// systemd's own reading of the units, where systemd-analyze is installed
// (Debian: package systemd). The binary the units name is not installed
// here, so a copy of each unit points at a stub; a templated unit is
// verified as an instance. Any warning (unknown key, bad value) fails.
const analyze = spawnSync('systemd-analyze', ['--version']).status === 0
t.test('systemd-analyze verify and security', { skip: analyze ? false : 'systemd-analyze is not installed (the INI checks above still ran)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-units-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const stub = join(dir, 'driftgate')
  writeFileSync(stub, '#!/bin/sh\n', { mode: 0o755 })
  const names = units.map(({ file }) => {
    const name = file.replace('@.service', '@main.service')
    const text = readFileSync(join(DEPLOY, 'systemd', file), 'utf8').replaceAll('/usr/local/bin/driftgate', stub)
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  })
  const verify = spawnSync('systemd-analyze', ['verify', '--man=no', ...names], { encoding: 'utf8' })
  t.equal(verify.stderr + verify.stdout, '', 'no warning')
  t.equal(verify.status, 0, 'systemd-analyze verify')
  for (const unit of names) {
    const sec = spawnSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8' })
    const level = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(sec.stdout)?.[1])
    // 0 = fully sandboxed … 10 = unprotected; systemd calls < 3 "OK". Today 1.4 to 2.4.
    t.ok(level >= 0 && level < 3, `${unit}: exposure ${level} < 3`)
  }
})

// nats-server reads each node's config (and the cluster.conf and
// resolver.conf it includes) and checks it, JWTs included, without starting.
const natsServer = spawnSync('nats-server', ['--version']).status === 0
t.test('deploy/nats: each node\'s config is valid for nats-server -t', { skip: natsServer ? false : 'nats-server is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-nats-conf-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const f of readdirSync(join(DEPLOY, 'nats')).filter((f) => f.endsWith('.conf'))) {
    writeFileSync(join(dir, f), readFileSync(join(DEPLOY, 'nats', f)))
  }
  const check = (conf: string): { status: number | null, out: string } => {
    const r = spawnSync('nats-server', ['-c', join(dir, conf), '-t'], { encoding: 'utf8', cwd: dir })
    return { status: r.status, out: r.stdout + r.stderr }
  }
  t.match(check('nats-1.conf').out, /resolver\.conf/, 'without the nsc output it is refused')
  writeFileSync(join(dir, 'resolver.conf'), throwawayResolverConf())
  for (const n of [1, 2, 3]) {
    const conf = readFileSync(join(DEPLOY, 'nats', `nats-${n}.conf`), 'utf8')
    t.match(conf, new RegExp(`^server_name: nats-${n}$`, 'm'))
    const r = check(`nats-${n}.conf`)
    t.equal(r.status, 0, `nats-${n}.conf: ${r.out.trim()}`)
  }
  const cluster = readFileSync(join(DEPLOY, 'nats', 'cluster.conf'), 'utf8')
  t.same([...cluster.matchAll(/nats-route:\/\/(nats-\d):6222/g)].map((m) => m[1]), ['nats-1', 'nats-2', 'nats-3'], 'routes to all three')
})
