import t from 'tap'
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfWriter, isEmptyChange } from '../../src/renderer/writer.js'
import { HEADER } from '../../src/renderer/file-format.js'
import { culpritFile } from '../../src/renderer/held-back.js'

const files = (m: Record<string, string>): Map<string, string> => new Map(Object.entries(m).map(([k, v]) => [k, HEADER + v]))

t.test('writes only what changed, deletes what is gone, undoes on request', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-out-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'operator.conf'), 'upstream mine { server 127.0.0.1:1; }\n') // not ours: never touched
  const w = new ConfWriter(dir)
  await w.load()
  t.equal(w.current.size, 0)
  const first = files({ 'a.conf': 'A1', 'b.conf': 'B1' })
  const c1 = w.diff(first)
  t.same([...c1.previous.keys()].sort(), ['a.conf', 'b.conf'])
  await w.apply(first, c1)
  t.ok(isEmptyChange(w.diff(first)), 'same desired state: nothing to do')
  const second = files({ 'a.conf': 'A2', 'c.conf': 'C1' })
  const c2 = w.diff(second)
  t.same([...c2.previous.entries()].sort(), [['a.conf', HEADER + 'A1'], ['b.conf', HEADER + 'B1'], ['c.conf', undefined]])
  await w.apply(second, c2)
  t.same(readdirSync(dir).sort(), ['a.conf', 'c.conf', 'operator.conf'])
  t.equal(readFileSync(join(dir, 'a.conf'), 'utf8'), HEADER + 'A2')
  await w.undo(c2)
  t.same(readdirSync(dir).sort(), ['a.conf', 'b.conf', 'operator.conf'])
  t.equal(readFileSync(join(dir, 'a.conf'), 'utf8'), HEADER + 'A1')
  t.ok(isEmptyChange(w.diff(first)))
  // a restarted writer recognises its own files only
  const again = new ConfWriter(dir)
  await again.load()
  t.same([...again.current.keys()].sort(), ['a.conf', 'b.conf'])
  t.notOk(readdirSync(dir).some((n) => n.endsWith('.tmp')), 'no temp file left')
  t.ok(existsSync(join(dir, 'operator.conf')))
})

t.test('culpritFile finds the generated file nginx blames', async (t) => {
  const out = '/tmp/x/out'
  t.equal(culpritFile('nginx: [emerg] duplicate upstream "api" in /tmp/x/out/api.conf:3\nnginx: configuration file /tmp/x/nginx.conf test failed', out), 'api.conf')
  t.equal(culpritFile('nginx: [emerg] unknown directive "x" in /tmp/x/nginx.conf:12', out), null)
  t.equal(culpritFile('nginx: [emerg] something in /tmp/x/out/sub/a.conf:1', out), null)
  const dup = 'nginx: [emerg] duplicate upstream "legacy" in /tmp/x/nginx.conf:68'
  t.equal(culpritFile(dup, out, ['web.conf', 'legacy.conf']), 'legacy.conf')
  t.equal(culpritFile(dup, out, ['web.conf']), null)
})
