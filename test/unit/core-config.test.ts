import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, envName, ConfigError, type RoleSchema } from '../../src/core/index.js'

const schema: RoleSchema = {
  type: 'object',
  required: ['hostId'],
  properties: {
    hostId: { type: 'string', pattern: '^[a-z0-9-]+$' },
    httpPort: { type: 'integer', minimum: 1, maximum: 65535, default: 7070 },
    verbose: { type: 'boolean', default: false },
    dnsForward: { type: 'array', items: { type: 'string' }, default: [] },
  },
}
interface Cfg { hostId: string, httpPort: number, verbose: boolean, dnsForward: string[] }

function yamlFile (text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dg-cfg-'))
  writeFileSync(join(dir, 'c.yaml'), text)
  return join(dir, 'c.yaml')
}

t.test('env names follow DRIFTGATE_SNAKE_CASE', async (t) => {
  t.equal(envName('httpPort'), 'DRIFTGATE_HTTP_PORT')
  t.equal(envName('nats'), 'DRIFTGATE_NATS')
})

t.test('defaults apply and the result is frozen', async (t) => {
  const cfg = loadConfig<Cfg>({ role: 'test', schema, flags: { hostId: 'h1' }, env: {} })
  t.same(cfg, { hostId: 'h1', httpPort: 7070, verbose: false, dnsForward: [] })
  t.ok(Object.isFrozen(cfg))
  t.ok(Object.isFrozen(cfg.dnsForward))
  t.throws(() => { (cfg as { httpPort: number }).httpPort = 1 })
})

t.test('precedence: flags > env > file > defaults', async (t) => {
  const file = yamlFile('hostId: from-file\nhttpPort: 1000\nverbose: true\n')
  const env = { DRIFTGATE_HTTP_PORT: '2000', DRIFTGATE_DNS_FORWARD: '1.1.1.1, 9.9.9.9' }
  const cfg = loadConfig<Cfg>({ role: 'test', schema, file, env, flags: { hostId: 'from-flag', httpPort: undefined } })
  t.equal(cfg.hostId, 'from-flag', 'flag wins over file')
  t.equal(cfg.httpPort, 2000, 'env wins over file and is coerced to an integer')
  t.equal(cfg.verbose, true, 'file wins over default')
  t.same(cfg.dnsForward, ['1.1.1.1', '9.9.9.9'], 'env lists are comma separated')
})

t.test('every problem is reported at once, naming each field', async (t) => {
  const err = t.throws(() => loadConfig<Cfg>({
    role: 'agent', schema, env: { DRIFTGATE_HTTP_PORT: 'abc' }, flags: { bogus: 1 },
  })) as ConfigError
  t.ok(err instanceof ConfigError)
  t.equal(err.code, 'DG_CONFIG_INVALID')
  const text = err.message
  t.match(text, /invalid agent configuration/)
  t.match(text, /hostId/, 'missing required field named')
  t.match(text, /httpPort \(--http-port \/ DRIFTGATE_HTTP_PORT\)/, 'wrong type named with its flag and env')
  t.match(text, /unknown field "bogus"/, 'unknown option named')
  t.ok(err.problems.length >= 3)
})

t.test('a file that is not a mapping or cannot be read is a clear error', async (t) => {
  t.throws(() => loadConfig({ role: 'x', schema, file: yamlFile('- a\n- b\n'), env: {} }), /must hold a mapping/)
  t.throws(() => loadConfig({ role: 'x', schema, file: '/nonexistent/c.yaml', env: {} }), /cannot read/)
})
