// `driftgate up` / `demo` start-up: the nginx.conf adaptation (pure) and the
// errors a newcomer can hit, each saying what to do.
import t from 'tap'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { projectRoot } from '../../src/cli/version.js'
import { PreflightError } from '../../src/core/index.js'
import { adaptNginxConf } from '../../src/up/nginx.js'
import { requireBinary, requireDocker, requireNats, requirePorts, requireRoot } from '../../src/up/preflight.js'
import { resolveUpOptions } from '../../src/up/config.js'
import { upSummary } from '../../src/up/summary.js'
import { poolRange } from '../../src/demo/lab.js'
import { tryThis } from '../../src/demo/index.js'

const example = readFileSync(join(projectRoot(), 'nginx', 'nginx.conf'), 'utf8')

t.test('adaptNginxConf: every path under the prefix, one listen address', async (t) => {
  const conf = adaptNginxConf(example, { prefix: '/data/nginx', host: '127.0.0.1', port: 8080 })
  t.match(conf, /^pid \/data\/nginx\/nginx\.pid;/m)
  t.match(conf, /^error_log \/data\/nginx\/logs\/error\.log warn;/m)
  t.match(conf, /include \/data\/nginx\/out\/\*\.conf;/)
  t.match(conf, /listen 127\.0\.0\.1:8080 default_server;/)
  t.match(conf, /proxy_temp_path \/data\/nginx\/tmp\/proxy;/)
  t.notMatch(conf, /\/etc\/nginx\/driftgate\/\*\.conf;/, 'the example include is gone')
  t.notMatch(conf, /\/var\/log\/nginx|\/run\/nginx-driftgate/, 'no system path is left')
  t.throws(() => adaptNginxConf('events {}', { prefix: '/x', host: '127.0.0.1', port: 1 }), /nginx\/nginx\.conf changed/, 'a changed example is reported, not half-adapted')
})

t.test('port taken: names the port and the flag', async (t) => {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { srv.close() })
  const port = (srv.address() as net.AddressInfo).port
  await t.rejects(requirePorts([{ port, flag: '--port', what: 'nginx' }]), { name: 'PreflightError', code: 'DG_PREFLIGHT', message: new RegExp(`nginx port ${port} \\(choose another with --port <port>\\)`) })
  await t.resolves(requirePorts([{ port: 0, flag: '--port', what: 'nginx' }]), 'port 0 is not checked')
})

t.test('not root: says why and what else to do', async (t) => {
  const real = process.getuid
  t.teardown(() => { process.getuid = real })
  process.getuid = () => 1000
  t.throws(() => requireRoot('driftgate up', 'serves the Docker IPAM driver socket', 'pass --no-ipam-driver'),
    { code: 'DG_PREFLIGHT', message: 'driftgate up must run as root: it serves the Docker IPAM driver socket. Run it with sudo or as root, or pass --no-ipam-driver' })
  process.getuid = () => 0
  t.doesNotThrow(() => requireRoot('driftgate up', 'x'))
})

t.test('dockerd missing: says how to start it', async (t) => {
  await t.rejects(requireDocker('/nonexistent/docker.sock'), { message: /cannot reach dockerd at \/nonexistent\/docker\.sock \(ENOENT\).*install-deps\.sh.*--docker/ })
  await t.resolves(requireDocker('tcp://127.0.0.1:2375'), 'tcp daemons are left to the agent')
})

t.test('NATS unreachable: says how to run without one', async (t) => {
  await t.rejects(requireNats('nats://127.0.0.1:1'), { message: /cannot reach NATS at nats:\/\/127\.0\.0\.1:1 .*leave --nats out/ })
})

t.test('binary missing: points at install-deps.sh', async (t) => {
  t.throws(() => requireBinary('driftgate-no-such-binary', 'some-pkg'), { message: /driftgate-no-such-binary is not installed \(Debian package some-pkg\): install it with: bash scripts\/install-deps\.sh/ })
  t.type(requireBinary('sh'), 'string')
  t.ok(new PreflightError('x') instanceof Error)
})

t.test('up options and summary', async (t) => {
  const o = resolveUpOptions({ data: './.driftgate', natsPort: 4222, docker: '/var/run/docker.sock', ipamDriverName: 'driftgate', ipamDriver: true,
    agent: true, port: 8080, httpPort: 7070, dnsPort: 8600, bind: '127.0.0.1', hostGrace: '30s', logLevel: 'info' }, '/srv', 'Web_Server.example.com')
  t.equal(o.data, '/srv/.driftgate')
  t.equal(o.hostId, 'web-server-example-com', 'the host name made into a DNS label')
  t.equal(o.ipamDriverName, 'driftgate')
  t.equal(resolveUpOptions({ ...o, ipamDriver: false, ipamDriverName: 'driftgate' }).ipamDriverName, undefined, '--no-ipam-driver')
  const text = upSummary({ options: o, natsUrl: 'nats://127.0.0.1:4222', tokenFile: '/srv/.driftgate/api-token', logFile: '/srv/.driftgate/logs/driftgate.log', apiToken: 'x' })
  for (const re of [/nginx\s+http:\/\/127\.0\.0\.1:8080\//, /API\s+http:\/\/127\.0\.0\.1:7070/, /DNS\s+dig @127\.0\.0\.1 -p 8600/, /metrics\s+http:\/\/127\.0\.0\.1:7070\/metrics/, /logs\s+\S*driftgate\.log/, /Ctrl-C/]) t.match(text, re)
})

t.test('demo: pool range and what to try', async (t) => {
  t.equal(poolRange('10.241.7.0/24'), '10.241.7.64-10.241.7.250')
  const text = tryThis({ v: 1, dir: '/tmp/driftgate-demo', createdAt: '', pids: {}, drivers: {}, stopped: [],
    ports: { nginx: 8080, http: 7070, dns: 8600, nats: 4222, status: 1 } }, 'driftgate')
  for (const re of [/curl -H 'Host: web' http:\/\/127\.0\.0\.1:8080\//, /driftgate scale web=6/, /driftgate demo stop-host h2/, /driftgate status/, /driftgate demo down/]) t.match(text, re)
})
