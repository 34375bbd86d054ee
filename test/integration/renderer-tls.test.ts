// --certs against a real nginx: a certificate added is served (SNI, checked
// by curl against the test CA and by reading the served certificate),
// renewed → the new one; replaced by a broken one (wrong key, expired) →
// refused, the old one still served; removed → HTTP only. Each change is
// one validated reload (lua mode: endpoint changes never reload, these do).
import t from 'tap'
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request as httpRequest } from 'node:http'
import { connect as tlsConnect } from 'node:tls'
import { connect, type NatsConnection } from 'nats'
import { startNats, startNginx, freePort, waitFor } from '../harness/index.js'
import { ensureBuckets, encodeJson } from '../../src/bus/index.js'
import { createLogger, silentLogger } from '../../src/core/index.js'
import { createRenderer, type Renderer } from '../../src/renderer/index.js'
import { ep, svc } from '../unit/renderer-fixtures.js'
import { TestCa } from '../unit/tls-fixtures.js'
import { closeBackendLan, exampleHttpBody, get, startBackend } from './renderer-fixtures.js'

const root = mkdtempSync(join(tmpdir(), 'dg-tls-'))
const out = join(root, 'out')
const certs = join(root, 'certs')
const ca = new TestCa(join(root, 'ca'))
const nats = await startNats()
// lua mode (the shipped config's): certificate changes still reload, validated
const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: true })
const [statusPort, httpsPort] = [await freePort(), await freePort()]
const nc: NatsConnection = await connect({ servers: nats.url })
const kv = await ensureBuckets(nc)
const backend = await startBackend('b1')
let renderer: Renderer
t.teardown(async () => {
  await renderer?.close()
  await nc.close()
  await backend.close()
  await closeBackendLan()
  await nginx.stop()
  await nats.stop()
  rmSync(root, { recursive: true, force: true })
})

const metric = async (name: string, labels = ''): Promise<number> => {
  const text = await renderer.registry.metrics()
  const m = new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, 'm').exec(text) ?? new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m == null ? 0 : Number(m[1])
}
/** GET with the Location header. */
const getFull = (port: number, host: string): Promise<{ status: number, location?: string }> => new Promise((resolve) => {
  const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
    res.resume()
    resolve({ status: res.statusCode ?? 0, location: res.headers.location })
  })
  req.on('error', () => resolve({ status: 0 }))
  req.end()
})
const reloads = async (): Promise<number> => await metric('driftgate_renderer_reloads_total', 'result="ok",cause="certificate"')

/** Serial of the certificate nginx serves for `servername`, or the handshake's error. */
function served (servername: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername, rejectUnauthorized: false, timeout: 3000 }, () => {
      resolve(s.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, ''))
      s.destroy()
    })
    s.on('error', (err) => resolve(`error: ${(err as NodeJS.ErrnoException).code ?? err.message}`))
    s.on('timeout', () => { s.destroy(); resolve('error: timeout') })
  })
}
/** The serial openssl reads from a PEM certificate. */
function serialOf (certPath: string): Promise<string> {
  return new Promise((resolve, reject) => execFile('openssl', ['x509', '-noout', '-serial', '-in', certPath], (err, stdout) =>
    err != null ? reject(err) : resolve(stdout.trim().replace(/^serial=/, '').replace(/^0+/, '').toLowerCase())))
}
/** curl over HTTPS with SNI (--resolve), verifying the chain against the test CA. */
function curl (host: string, path = '/'): Promise<{ code: number, body: string }> {
  return new Promise((resolve) => execFile('curl', ['-sS', '--max-time', '5', '--cacert', join(root, 'ca', 'ca.crt'),
    '--resolve', `${host}:${httpsPort}:127.0.0.1`, `https://${host}:${httpsPort}${path}`], (err, stdout, stderr) =>
    resolve({ code: err == null ? 0 : Number((err as { code?: number }).code ?? -1), body: err == null ? stdout : stderr })))
}
const install = (leaf: { certPath: string, keyPath: string }, base: string): void => {
  cpSync(leaf.keyPath, join(certs, `${base}.key`))
  cpSync(leaf.certPath, join(certs, `${base}.crt`))
}
/** Waits for what nginx serves for `host` to become `want` (the renderer is idle and old workers gone). */
const serving = async (host: string, want: (s: string) => boolean, what: string): Promise<string> => {
  let last = ''
  await waitFor(async () => { await renderer.idle(); await nginx.settled(); last = await served(host); return want(last) }, { what, timeoutMs: 15_000 })
  return last
}

t.before(async () => {
  mkdirSync(certs)
  // web.example.com (redirectHttps: HTTP → 301 once it has a certificate) and any *.example.com
  const [, rec] = svc('web')
  await kv.services.put('web', encodeJson({ ...rec, spec: { ...rec.spec, routes: [{ host: 'web.example.com', redirectHttps: true }, { host: '*.example.com' }] } }))
  const [k, v] = ep('web', 1, { ip: backend.host, port: backend.port })
  await kv.endpoints.put(k, encodeJson(v))
  renderer = createRenderer({
    id: 'tls1', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort, minWaitMs: 20, maxWaitMs: 500, reloadTimeoutMs: 5000, announceIntervalMs: 60_000, mode: 'lua',
    certs, httpsListen: `127.0.0.1:${httpsPort}`, certsDebounceMs: 100, httpListen: `127.0.0.1:${nginx.port}`, hostPrefix: false,
  }, { nc, log: process.env.DG_TEST_LOG != null ? createLogger({ level: 'debug' }) : silentLogger() })
  await renderer.start()
  await waitFor(async () => (await get(nginx.port, 'web.example.com')).status === 200, { what: 'web over HTTP' })
})

t.test('no certificate: nothing listens on the HTTPS address', async (t) => {
  t.match(await served('web.example.com'), /^error: ECONNREFUSED/)
})

const first = ca.leaf(['web.example.com', 'www.web.example.com'])
t.test('a certificate added is served by SNI, with one reload', async (t) => {
  const before = await reloads()
  install(first, 'web.example.com')
  t.equal(await serving('web.example.com', (s) => !s.startsWith('error'), 'certificate served'), await serialOf(first.certPath))
  const r = await curl('web.example.com')
  t.equal(r.code, 0, r.body)
  t.equal(r.body.trim(), 'b1', 'proxied to the service over HTTPS, chain and name verified by curl')
  t.equal(await reloads(), before + 1, 'one reload')
  t.equal(await metric('driftgate_renderer_certificates', 'state="served"'), 1)
  t.match(readFileSync(join(out, '_driftgate.servers.conf'), 'utf8'), `listen 127.0.0.1:${httpsPort} ssl;\n    server_name web.example.com;`)
  t.match(await served('nobody.example.net'), /^error:/, 'a name no certificate covers gets no handshake')
  t.match(await served('web2.example.com'), /^error:/, 'a route host without a certificate: no HTTPS')
  const plain = await getFull(nginx.port, 'web.example.com')
  t.equal(plain.status, 301, 'redirectHttps: HTTP answers 301')
  t.equal(plain.location, `https://web.example.com:${httpsPort}/`)
  t.equal((await get(nginx.port, 'web2.example.com')).status, 200, 'a host without a certificate is served over HTTP')
})

t.test('renewed (same key, new certificate) → the new one is served, with one reload', async (t) => {
  const before = await reloads()
  const renewed = ca.leaf(['web.example.com', 'www.web.example.com'], { key: first.keyPath })
  cpSync(renewed.certPath, join(certs, 'web.example.com.crt'))
  const want = await serialOf(renewed.certPath)
  t.equal(await serving('web.example.com', (s) => s === want, 'renewal served'), want)
  t.equal(await reloads(), before + 1)
  t.equal((await curl('web.example.com')).body.trim(), 'b1')
})

t.test('replaced by a broken one (wrong key, then expired): refused and reported, the old one keeps serving', async (t) => {
  const old = await served('web.example.com')
  const refusals = await metric('driftgate_renderer_certificate_refusals_total', 'reason="key_mismatch"')
  const other = ca.leaf(['other.example.com'])
  cpSync(other.keyPath, join(certs, 'web.example.com.key'))
  await waitFor(async () => (await metric('driftgate_renderer_certificate_refusals_total', 'reason="key_mismatch"')) === refusals + 1, { what: 'key refused' })
  await renderer.idle()
  t.equal(await served('web.example.com'), old, 'still the previous certificate')
  t.equal(await metric('driftgate_renderer_last_error', 'reason="certificate"'), 1)
  t.match(renderer.lastError, /web\.example\.com \(key_mismatch.*previous one keeps serving/)
  t.equal(await metric('driftgate_renderer_certificates', 'state="refused"'), 1)

  const expired = ca.leaf(['web.example.com'], { from: new Date(Date.now() - 5 * 86400_000), to: new Date(Date.now() - 86400_000) })
  install(expired, 'web.example.com')
  await waitFor(async () => (await metric('driftgate_renderer_certificate_refusals_total', 'reason="expired"')) >= 1, { what: 'expired refused' })
  await renderer.idle()
  t.equal(await served('web.example.com'), old, 'still the previous certificate')
  t.equal((await curl('web.example.com')).body.trim(), 'b1')
})

t.test('a wildcard certificate covers one label; an exact name beats it', async (t) => {
  const wild = ca.leaf(['*.example.com'])
  install(wild, '_wildcard.example.com')
  const want = await serialOf(wild.certPath)
  await serving('web2.example.com', (s) => s === want, 'wildcard served')
  t.not(await served('web.example.com'), want, 'web.example.com keeps its own certificate')
  t.match(await served('a.b.example.com'), /^error:/, 'two labels: not covered')
  // curl verifies the wildcard name and reaches the service through the *.example.com route
  const r = await curl('web2.example.com')
  t.equal(r.code, 0, r.body)
  t.equal(r.body.trim(), 'b1')
})

t.test('a pair nginx will not load (RSA 1024, below its security level) is dropped; other changes still apply', async (t) => {
  const old = await served('web.example.com')
  const weak = ca.leaf(['web.example.com'], { rsaBits: 1024 })
  install(weak, 'web.example.com')
  await waitFor(async () => (await metric('driftgate_renderer_certificate_refusals_total', 'reason="nginx"')) === 1, { what: 'nginx refusal' })
  await renderer.idle()
  t.equal(await served('web.example.com'), old, 'the previous certificate keeps serving')
  t.match(renderer.lastError, /web\.example\.com \(nginx: nginx -t: .*key too small/)
  // a change after it still reaches nginx: a new service with its own route
  const [, rec] = svc('api')
  await kv.services.put('api', encodeJson({ ...rec, spec: { ...rec.spec, routes: [{ host: 'api.example.net' }] } }))
  const [k, v] = ep('api', 2, { ip: backend.host, port: backend.port })
  await kv.endpoints.put(k, encodeJson(v))
  await waitFor(async () => { await renderer.idle(); return (await get(nginx.port, 'api.example.net')).status === 200 }, { what: 'new service served' })
  t.equal(await served('web.example.com'), old)
})

t.test('removed → HTTP only for its names', async (t) => {
  rmSync(join(certs, '_wildcard.example.com.crt'))
  rmSync(join(certs, '_wildcard.example.com.key'))
  rmSync(join(certs, 'web.example.com.crt'))
  rmSync(join(certs, 'web.example.com.key'))
  await serving('web.example.com', (s) => s.startsWith('error'), 'no more HTTPS')
  t.match(await served('web.example.com'), /^error: ECONNREFUSED/, 'no certificate left: nothing listens')
  t.equal((await get(nginx.port, 'web.example.com')).status, 200, 'HTTP serves again (no redirect without a certificate)')
  t.equal(await metric('driftgate_renderer_last_error', 'reason="certificate"'), 0, 'no refusal left')
})
