// The strict YAML reader behind `driftgate apply`, the services API and --config files.
import t from 'tap'
import { ValidationError, readYaml, readYamlDocuments } from '../../src/core/index.js'
import { specsFromText } from '../../src/client/apply.js'

const refused: Array<{ desc: string, input: string, message: RegExp }> = [
  { desc: 'an unresolved language tag', input: '!!js/function "f"', message: /Unresolved tag/ },
  { desc: 'a custom tag', input: 'name: !secret web', message: /Unresolved tag/ },
  { desc: 'a list as a mapping key', input: '? [a]\n: 1', message: /plain value/ },
  { desc: 'a mapping as a key, nested', input: 'env:\n  ? {a: 1}\n  : x', message: /plain value/ },
  { desc: 'a syntax error', input: 'a: [1, 2', message: /./ },
  { desc: 'an alias bomb', input: ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`)].join('\n'), message: /alias/i },
]

t.test('refused with a ValidationError, and nothing printed as a process warning', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.message) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  for (const { desc, input, message } of refused) {
    t.throws(() => readYamlDocuments(input, 'spec.yaml'), ValidationError, desc)
    try { readYamlDocuments(input, 'spec.yaml') } catch (err) { t.match((err as Error).message, message, `${desc}: says what`) }
  }
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings, [], 'no process warnings')
})

t.test('read', async (t) => {
  const table: Array<{ desc: string, input: string, expected: unknown[] }> = [
    { desc: 'one mapping', input: 'name: web\nreplicas: 3', expected: [{ name: 'web', replicas: 3 }] },
    { desc: 'JSON is YAML', input: '{"name":"web"}', expected: [{ name: 'web' }] },
    { desc: 'empty documents skipped', input: 'name: a\n---\n---\nname: b\n---\n', expected: [{ name: 'a' }, { name: 'b' }] },
    { desc: 'standard tags are fine', input: 'n: !!int "3"', expected: [{ n: 3 }] },
  ]
  for (const { desc, input, expected } of table) t.same(readYamlDocuments(input, 'f').map((d) => d.value), expected, desc)
  t.equal(readYaml('', 'f'), null, 'empty text')
  t.throws(() => readYaml('a: 1\n---\nb: 2', 'f'), /one document/, 'two documents where one is expected')
  t.match(readYamlDocuments('a: 1\n---\nb: 2', 'f.yaml').map((d) => d.at), ['f.yaml (document 1)', 'f.yaml (document 2)'], 'documents numbered')
})

t.test('specsFromText names the document at fault', async (t) => {
  t.throws(() => specsFromText('name: a\n---\nname: !x b', 'svc.yaml'), /svc.yaml \(document 2\)/)
  t.throws(() => specsFromText('---\n', 'svc.yaml'), /no spec/)
})
