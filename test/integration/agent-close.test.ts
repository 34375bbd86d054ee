// close() is bounded: an agent whose NATS and Docker are both gone exits
// within 5 s of one SIGTERM (it used to take more than 13 s and a second
// signal). Real agent process, real nats-server, real dockerd.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Testbed, cliArgs, startNats, waitFor } from '../harness/index.js'

const cli = cliArgs()

t.test('an agent whose NATS and Docker are gone stops within 5 s of SIGTERM', async (t) => {
  const tb = await Testbed.create({ hosts: 1, network: false, name: 'agent-close' })
  t.teardown(async () => { await tb.teardown() })
  const nats = await startNats()
  t.teardown(async () => { await nats.stop() })
  const h = tb.hosts[0]
  const sockDir = mkdtempSync(join(tmpdir(), 'dg-close-sock-'))
  t.teardown(() => { rmSync(sockDir, { recursive: true, force: true }) })

  const child = spawn(process.execPath, [...cli, 'agent', '--host-id', 'hclose', '--docker', h.socketPath,
    '--nats', nats.url, '--ipam-driver-name', 'dg-close-test', '--ipam-socket-dir', sockDir,
    '--heartbeat-interval', '500ms', '--resync-interval', '1s', '--watchdog', '1s'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))

  await waitFor(async () => out.includes('"agent started"'), { timeoutMs: 30_000 })
  t.pass('agent started against real NATS and dockerd')

  await nats.stop()
  await tb.stopDockerd(h)
  // Let it notice both are gone: snapshot retries, Docker reattach and NATS
  // reconnect loops are all in flight when the signal comes.
  await new Promise((resolve) => setTimeout(resolve, 4000))

  const t0 = Date.now()
  child.kill('SIGTERM')
  const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000))])
  const ms = Date.now() - t0
  t.not(code, 'timeout', `exited after one SIGTERM (${ms} ms)`)
  t.ok(ms < 5000, `within 5 s of SIGTERM: ${ms} ms`)
  t.equal(code, 0, 'exit code 0')
  t.match(out, '"agent stopped"', 'logged its stop')
})
