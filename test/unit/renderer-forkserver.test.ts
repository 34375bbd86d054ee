// ForkServer: one fixed command run again and again through a long-lived
// /bin/sh. Real processes (sh, echo, sleep), no nginx needed.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { ForkServer } from '../../src/renderer/forkserver.js'

t.test('exit code and output (stdout and stderr) of each run', async (t) => {
  const fs = new ForkServer(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], 5000)
  t.teardown(() => fs.close())
  t.same(await fs.run(), { code: 3, output: 'out\nerr\n' })
  t.same(await fs.run(), { code: 3, output: 'out\nerr\n' }, 'again')
  const quiet = new ForkServer(['/bin/true'], 5000)
  t.teardown(() => quiet.close())
  t.same(await quiet.run(), { code: 0, output: '' })
})

t.test('one shell serves every run; runs are serialised', async (t) => {
  const fs = new ForkServer(['/bin/sh', '-c', 'echo $PPID'], 5000)
  t.teardown(() => fs.close())
  const results = await Promise.all([fs.run(), fs.run(), fs.run()])
  t.equal(new Set(results.map((r) => r.output)).size, 1, 'same parent shell')
  t.ok(results.every((r) => r.code === 0))
})

t.test('arguments are passed, never parsed by the shell', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-fs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const hostile = `$(touch ${dir}/a); \`touch ${dir}/b\`; touch ${dir}/c`
  const fs = new ForkServer(['/bin/echo', hostile], 5000)
  t.teardown(() => fs.close())
  t.same(await fs.run(), { code: 0, output: `${hostile}\n` })
  t.notOk(existsSync(join(dir, 'a')) || existsSync(join(dir, 'b')) || existsSync(join(dir, 'c')), 'nothing ran')
})

t.test('output that looks like an end marker, and a large output, come back whole', async (t) => {
  const fs = new ForkServer(['/bin/sh', '-c', 'echo "__driftgate_end_0000 0"; head -c 300000 /dev/zero | tr "\\0" x; echo; exit 1'], 5000)
  t.teardown(() => fs.close())
  const r = await fs.run()
  t.equal(r.code, 1)
  t.ok(r.output.startsWith('__driftgate_end_0000 0\n'))
  t.equal(r.output.length, '__driftgate_end_0000 0\n'.length + 300_001)
})

t.test('a missing command is an error with the shell\'s message', async (t) => {
  const fs = new ForkServer(['/nonexistent/nginx', '-t'], 5000)
  t.teardown(() => fs.close())
  const r = await fs.run()
  t.equal(r.code, 127)
  t.match(r.output, /not found/)
})

t.test('a run past its timeout is killed with its shell; the next run gets a new shell', async (t) => {
  const marker = `${(Math.random() * 1000 + 7).toFixed(3)}`
  const fs = new ForkServer(['/bin/sh', '-c', `if [ -e /tmp/dg-fs-fast-${marker} ]; then echo fast; else sleep ${marker}; fi`], 300)
  t.teardown(() => { fs.close(); rmSync(`/tmp/dg-fs-fast-${marker}`, { force: true }) })
  const t0 = Date.now()
  const r = await fs.run()
  t.equal(r.code, -1)
  t.match(r.output, /did not finish within 300 ms/)
  t.equal(r.failure, 'timeout', 'a timeout is not a verdict')
  t.ok(Date.now() - t0 < 3000)
  await new Promise((resolve) => setTimeout(resolve, 100))
  let left = ''
  try { left = execFileSync('pgrep', ['-f', `sleep ${marker}`]).toString() } catch { left = '' }
  t.equal(left, '', 'the command was killed too')
  execFileSync('touch', [`/tmp/dg-fs-fast-${marker}`])
  t.same(await fs.run(), { code: 0, output: 'fast\n' })
})

t.test('close: idempotent, later runs fail cleanly, no shell left', async (t) => {
  const fs = new ForkServer(['/bin/sh', '-c', 'echo $PPID'], 5000)
  const pid = Number((await fs.run()).output.trim())
  fs.close()
  fs.close()
  t.same(await fs.run(), { code: -1, output: 'fork server closed', failure: 'closed' })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.notOk(existsSync(`/proc/${pid}`), 'shell gone')
})

t.test('busybox sh (the Docker image\'s /bin/sh) runs the same script', async (t) => {
  // CI installs busybox-static; a symlink named sh makes busybox act as its shell.
  const dir = mkdtempSync(join(tmpdir(), 'dg-fs-bb-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p))
  if (busybox === undefined) throw new Error('busybox is missing: apt-get install busybox-static')
  execFileSync('ln', ['-s', busybox, join(dir, 'sh')])
  const fs = new ForkServer(['/bin/sh', '-c', 'echo "a b"; echo err >&2; exit 4'], 5000, join(dir, 'sh'))
  t.teardown(() => fs.close())
  t.same(await fs.run(), { code: 4, output: 'a b\nerr\n' })
  t.same(await fs.run(), { code: 4, output: 'a b\nerr\n' })
})

t.test('the nonce is in no process argument or environment (issue 15, hole 7)', async (t) => {
  const fs = new ForkServer(['/bin/sh', '-c', 'echo $PPID'], 5000)
  t.teardown(() => fs.close())
  const pid = Number((await fs.run()).output.trim())
  // private field read on purpose: the secret to look for
  const nonce = (fs as unknown as { nonce: string }).nonce
  t.match(nonce, /^__driftgate_end_[0-9a-f]{24}$/, 'the shell has a nonce')
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
  t.ok(ps.split('\n').some((l) => l.trim().startsWith(`${pid} `) && l.includes('driftgate-forkserver')), 'the shell is in ps')
  t.notOk(ps.includes(nonce.slice('__driftgate_end_'.length)), 'ps -eo args shows no nonce')
  t.notOk(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(nonce), 'nor its cmdline')
  t.notOk(readFileSync(`/proc/${pid}/environ`, 'utf8').includes(nonce), 'nor its environment')
  t.same(await fs.run(), { code: 0, output: `${pid}\n` }, 'still answers')
})
