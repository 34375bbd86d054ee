// Tables: where nginx's pid file is (any layout of nginx.conf), the
// --reload-cmd word split, and --dry-run's unified diff.
import t from 'tap'
import { buildDefaults, pidFilePath, pidFromFiles, splitDump, tokenize } from '../../src/renderer/nginx-pid.js'
import { pidFromConf } from '../../src/renderer/index.js'
import { shellWords } from '../../src/renderer/shell-words.js'
import { fileDiff, unifiedDiff } from '../../src/renderer/dry-run.js'

t.test('pidFromConf: the main context pid, wherever it sits', async (t) => {
  const table: Array<[string, string, string | undefined]> = [
    ['at the start of a line', 'pid /run/a.pid;\nevents {}', '/run/a.pid'],
    ['after another directive on its line', 'worker_processes 1; pid /run/b.pid;\nevents {}', '/run/b.pid'],
    ['indented, several spaces', '   pid    /run/c.pid ;', '/run/c.pid'],
    ['quoted', 'pid "/run/with space.pid";', '/run/with space.pid'],
    ['single-quoted', "pid '/run/q.pid';", '/run/q.pid'],
    ['commented out', '# pid /run/no.pid;\nevents {}', undefined],
    ['comment after it', 'pid /run/d.pid; # the master', '/run/d.pid'],
    ['on its own line split', 'pid\n  /run/e.pid\n;', '/run/e.pid'],
    ['none', 'worker_processes 1;\nevents {}\nhttp {}', undefined],
    ['a map entry named pid inside http', 'http { map $host $x { pid pid; } }', undefined],
    ['after http', 'http { server { listen 80; } }\npid /run/f.pid;', '/run/f.pid'],
    ['a # inside a quoted word', 'env "A=#x"; pid /run/g.pid;', '/run/g.pid'],
    ['relative', 'pid logs/nginx.pid;', 'logs/nginx.pid'],
  ]
  for (const [what, text, want] of table) t.equal(pidFromConf(text), want, what)
})

t.test('pidFromFiles: follows main-context includes from an nginx -T dump, not http ones', async (t) => {
  const dump = [
    '# configuration file /etc/nginx/nginx.conf:',
    'include /etc/nginx/modules-enabled/*.conf;',
    'include main.d/*.conf;',
    'http { include /etc/nginx/conf.d/*.conf; }',
    '',
    '# configuration file /etc/nginx/modules-enabled/50-lua.conf:',
    'load_module x.so;',
    '',
    '# configuration file /etc/nginx/main.d/pid.conf:',
    'pid /run/included.pid;',
    '',
    '# configuration file /etc/nginx/conf.d/web.conf:',
    'pid /run/wrong.pid;',
    '',
  ].join('\n')
  const files = splitDump(dump)
  t.same([...files.keys()], ['/etc/nginx/nginx.conf', '/etc/nginx/modules-enabled/50-lua.conf', '/etc/nginx/main.d/pid.conf', '/etc/nginx/conf.d/web.conf'])
  t.equal(pidFromFiles(files), '/run/included.pid', 'relative include against the main file\'s folder')
  const onlyHttp = splitDump(dump.replace('include main.d/*.conf;', ''))
  t.equal(pidFromFiles(onlyHttp), undefined, 'a pid in a file included inside http is not the directive')
  t.same(tokenize('a "b;c" d\\;e; # x\n{}').map((x) => x.kind === 'word' ? x.value : x.kind), ['a', 'b;c', 'd;e', ';', '{', '}'])
})

t.test('pid path: directive or compile-time default, relative against -p or the compile-time prefix', async (t) => {
  const v = buildDefaults('nginx version: nginx/1.22.1\nconfigure arguments: --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf --pid-path=/run/nginx.pid --with-debug')
  t.same(v, { pidPath: '/run/nginx.pid', prefix: '/usr/share/nginx' })
  t.same(buildDefaults('configure arguments: --with-debug'), { pidPath: 'logs/nginx.pid', prefix: '/usr/local/nginx' })
  const table: Array<[string | undefined, string | undefined, string]> = [
    [undefined, undefined, '/run/nginx.pid'],
    ['/run/x.pid', '/p/', '/run/x.pid'],
    ['logs/x.pid', '/p/', '/p/logs/x.pid'],
    ['logs/x.pid', undefined, '/usr/share/nginx/logs/x.pid'],
  ]
  for (const [directive, prefix, want] of table) t.equal(pidFilePath(directive, v, prefix), want, `${directive} with -p ${prefix}`)
  t.equal(pidFilePath(undefined, { pidPath: 'logs/nginx.pid', prefix: '/usr/local/nginx' }), '/usr/local/nginx/logs/nginx.pid')
})

t.test('shellWords: a shell\'s word split, nothing else', async (t) => {
  const table: Array<[string, string[]]> = [
    ['docker kill -s HUP edge', ['docker', 'kill', '-s', 'HUP', 'edge']],
    ['  a   b\t c ', ['a', 'b', 'c']],
    ["sh -c 'nginx -s reload'", ['sh', '-c', 'nginx -s reload']],
    ['echo "a \\"b\\" $c"', ['echo', 'a "b" $c']],
    ['a\\ b c', ['a b', 'c']],
    ['x""y \'\'', ['xy', '']],
    ['a; rm -rf /', ['a;', 'rm', '-rf', '/']],
    ['$(id) `id` *', ['$(id)', '`id`', '*']],
    ['', []],
  ]
  for (const [line, want] of table) t.same(shellWords(line), want, line)
  for (const bad of ["a 'b", 'a "b', 'a\\']) t.throws(() => shellWords(bad), bad)
})

t.test('dry-run diff: unified hunks per file, created and deleted files', async (t) => {
  const before = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n'
  const after = 'a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n'
  t.equal(fileDiff('out/x.conf', before, after), [
    '--- a/out/x.conf', '+++ b/out/x.conf', '@@ -2,9 +2,10 @@', ' b', ' c', ' d', '-e', '+E', ' f', ' g', ' h', ' i', ' j', '+k', '',
  ].join('\n'))
  t.equal(fileDiff('n', undefined, 'x\n'), '--- /dev/null\n+++ b/n\n@@ -0,0 +1,1 @@\n+x\n')
  t.equal(fileDiff('n', 'x\n', undefined), '--- a/n\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n')
  t.equal(fileDiff('n', 'same\n', 'same\n'), '')
  const all = unifiedDiff(new Map([['a.conf', '1\n'], ['gone.conf', 'g\n']]), new Map([['a.conf', '1\n'], ['new.conf', 'n\n']]), '/etc/nginx/driftgate')
  t.match(all, '+++ b/etc/nginx/driftgate/new.conf')
  t.match(all, '--- a/etc/nginx/driftgate/gone.conf')
  t.notMatch(all, 'a.conf')
  // a big file's change stays fast: common prefix and suffix are not compared cell by cell
  const big = Array.from({ length: 40_000 }, (_, i) => `line ${i}`).join('\n') + '\n'
  const t0 = performance.now()
  t.match(fileDiff('big', big, big.replace('line 20000\n', 'changed\n')), '-line 20000\n+changed')
  t.ok(performance.now() - t0 < 1000)
})
