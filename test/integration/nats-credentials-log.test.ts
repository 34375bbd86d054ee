// A NATS password must never show in a log line or an error, whatever form
// it was given in: `nats://user:pass@host` in --nats, or --nats-pass. Runs
// connectNats (what every role uses) against a closed port and against a real
// nats-server that requires a password, logging through a real pino logger.
import t from 'tap'
import { Writable } from 'node:stream'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectNats, natsOptionsFrom, redactUrls } from '../../src/bus/index.js'
import { createLogger, type Logger } from '../../src/core/index.js'
import { freePort, startNats, waitFor } from '../harness/index.js'

const PASS = 'Sekr1t-pass-4b7e'

function capture (): { log: Logger, text: () => string } {
  let text = ''
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { text += chunk.toString(); done() } })
  return { log: createLogger({ level: 'trace', destination: sink }), text: () => text }
}

/** Everything an operator could see of an error: message, cause, and its JSON as pino logs it. */
function shown (err: unknown, log: Logger, text: () => string): string {
  log.error({ err }, 'role failed')
  const e = err as Error & { cause?: Error }
  return [e.message, e.cause?.message ?? '', e.stack ?? '', e.cause?.stack ?? '', text()].join('\n')
}

t.test('redactUrls hides passwords and tokens in URLs only', async (t) => {
  t.equal(redactUrls(`nats://alice:${PASS}@10.0.0.1:4222`), 'nats://alice:***@10.0.0.1:4222')
  t.equal(redactUrls(`nats://${PASS}@h:4222,nats://bob:x@h2`), 'nats://***@h:4222,nats://bob:***@h2')
  t.equal(redactUrls('nats://127.0.0.1:4222 user@example'), 'nats://127.0.0.1:4222 user@example')
})

t.test('a refused connection with user:pass in the URL logs no password', async (t) => {
  const port = await freePort() // nothing listens there
  const { log, text } = capture()
  const err = await connectNats({ servers: `nats://alice:${PASS}@127.0.0.1:${port}`, connectTimeoutMs: 1000 }, log).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof Error, 'connect fails')
  const all = shown(err, log, text)
  t.match(all, /cannot connect to NATS at nats:\/\/alice:\*\*\*@127\.0\.0\.1/, 'names the server, password masked')
  t.notMatch(all, PASS, 'no password in message, cause, stack or log')
})

t.test('a real nats-server: wrong password, then status changes, log no password', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-natslog-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'nats.conf'), JSON.stringify({ authorization: { users: [{ user: 'alice', password: PASS }] } }), { mode: 0o600 })
  const nats = await startNats({ args: ['-c', join(dir, 'nats.conf')] })
  t.teardown(async () => { await nats.stop() })
  const hostPort = nats.url.replace('nats://', '')

  const bad = capture()
  const err = await connectNats({ servers: `nats://alice:${PASS}-wrong@${hostPort}`, connectTimeoutMs: 2000 }, bad.log).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof Error, 'a wrong password is refused')
  t.notMatch(shown(err, bad.log, bad.text), PASS, 'the refused password is nowhere')

  const good = capture()
  // nats.js 2.x takes no credentials from the URL: a URL with them fails as above, so here they are options.
  const nc = await connectNats({ servers: nats.url, user: 'alice', pass: PASS, connectTimeoutMs: 2000 }, good.log)
  t.teardown(async () => { await nc.close() })
  await nats.restart() // disconnect + reconnect status lines
  await waitFor(() => /"event":"reconnect"/.test(good.text()), { timeoutMs: 20_000, what: 'reconnect logged' })
  t.match(good.text(), /nats connected/, 'the connection is logged')
  t.notMatch(good.text(), PASS, 'no password in connect or status lines')

  // natsPassFile: the password from a 0600 file, as `up` and `demo` give it to roles.
  writeFileSync(join(dir, 'pass'), PASS + '\n', { mode: 0o600 })
  const fromFile = natsOptionsFrom({ nats: nats.url, natsUser: 'alice', natsPassFile: join(dir, 'pass') }, 'from-file')
  const nc2 = await connectNats({ ...fromFile, connectTimeoutMs: 2000 }, good.log)
  t.ok(nc2.info?.server_id, 'natsPassFile authenticates')
  await nc2.close()
  t.throws(() => natsOptionsFrom({ natsPassFile: join(dir, 'missing') }, 'x'), /natsPassFile[\s\S]*ENOENT/, 'a missing file is a config error')
  t.throws(() => natsOptionsFrom({ natsPass: 'a', natsPassFile: join(dir, 'pass') }, 'x'), /not both/, 'both forms at once are refused')
})
