// The test image's server (src/lab/image/dg-httpd.c) in a real container on
// a 1-host testbed: keep-alive and pipelining, POST/HEAD, errors, the health
// toggle, the CPU burn, one log line per request, a graceful SIGTERM, and the
// shell-less image.
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { Testbed, TEST_IMAGE_NOSHELL, waitFor } from '../harness/index.js'

interface Identity { host: string; ips: string[]; received?: number; burnedMs?: number }

/** Writes payload on a fresh connection and collects everything until the server closes. */
function exchange(ip: string, payload: string, timeoutMs = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(80, ip, () => s.write(payload))
    let text = ''
    const timer = setTimeout(() => { s.destroy(); resolve({ text, closed: false }) }, timeoutMs)
    s.on('data', (d) => { text += d.toString() })
    s.on('close', () => { clearTimeout(timer); resolve({ text, closed: true }) })
    s.on('error', () => undefined)
  })
}

/** Splits concatenated HTTP responses (Content-Length framed) into [status, body] pairs. */
function responses(text: string, headBodies = false): [number, string][] {
  const out: [number, string][] = []
  let rest = text
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) throw new Error(`partial response: ${JSON.stringify(rest)}`)
    const head = rest.slice(0, end)
    const len = headBodies ? 0 : Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
    out.push([Number(head.split(' ')[1]), rest.slice(end + 4, end + 4 + len)])
    rest = rest.slice(end + 4 + len)
  }
  return out
}

function get(agent: http.Agent, url: string): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }))
    })
    req.on('error', reject)
  })
}

const json = async (url: string, init?: RequestInit): Promise<[number, Identity]> => {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) })
  return [res.status, JSON.parse(await res.text()) as Identity]
}

t.test('dg-httpd in the test images', async (t) => {
  const tb = await Testbed.create({ hosts: 1, name: 'test-image' })
  t.teardown(() => tb.teardown())
  const web = await tb.run('h1', { name: 'web' })
  const ip = await tb.ipOf('h1', web)
  const base = `http://${ip}`
  const [, me] = await waitFor(() => json(`${base}/`), { what: 'dg-httpd up' })
  t.same(me, { host: web.slice(0, 12), ips: [ip] }, 'identity: hostname and MacVLAN address, written by dg-httpd --identity')

  t.test('keep-alive: one socket serves many requests', async (t) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    t.teardown(() => agent.destroy())
    const got = []
    for (let i = 0; i < 5; i++) got.push(await get(agent, `${base}/k${i}`))
    t.same(got.map((g) => g.status), [200, 200, 200, 200, 200])
    t.same(got.map((g) => g.reused), [false, true, true, true, true], 'requests 2..5 reuse the first socket')
    t.same(JSON.parse(got[4].body), me)
  })

  t.test('pipelining, POST body, HEAD in one connection', async (t) => {
    const body = 'x'.repeat(20_000)
    const { text, closed } = await exchange(ip,
      'GET /a HTTP/1.1\r\nHost: t\r\n\r\n' +
      `POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
      'GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    t.ok(closed, 'Connection: close ends the connection')
    const r = responses(text)
    t.same(r.map(([s]) => s), [200, 200, 200], 'three pipelined requests, three answers in order')
    t.same(JSON.parse(r[1][1]), { ...me, received: 20_000 }, 'POST: identity plus the byte count')
    const head = await exchange(ip, 'HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    const [h, g] = head.text.split('HTTP/1.1 ').slice(1)
    t.match(h, /^200 OK\r\n.*Content-Length: \d+\r\n.*\r\n\r\n$/s, 'HEAD: headers only')
    t.same(JSON.parse(responses(`HTTP/1.1 ${g}`)[0][1]), me, 'and the next response follows right after')
    const [, put] = await json(`${base}/put`, { method: 'PUT', body: 'abc' })
    t.equal(put.received, 3, 'PUT is counted too')
    const ten = await exchange(ip, 'GET / HTTP/1.0\r\n\r\n')
    t.ok(ten.closed && /Connection: close/.test(ten.text), 'HTTP/1.0 without keep-alive closes')
  })

  t.test('bad requests: 400, 413, then close', async (t) => {
    for (const [what, payload, status] of [
      ['unknown method', 'BREW / HTTP/1.1\r\n\r\n', 400],
      ['not HTTP', 'hello\r\n\r\n', 400],
      ['bad Content-Length', 'POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n', 400],
      ['body over 1 MiB', 'POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n', 413],
      ['header over 8 KiB', `GET /${'a'.repeat(9000)} HTTP/1.1\r\n\r\n`, 413],
    ] as const) {
      const r = await exchange(ip, payload)
      t.ok(r.closed, `${what}: closed`)
      t.equal(responses(r.text)[0]?.[0], status, `${what}: ${status}`)
    }
  })

  t.test('health toggle', async (t) => {
    t.equal((await fetch(`${base}/healthz`)).status, 200)
    t.same((await json(`${base}/health/off`, { method: 'POST' }))[1], { healthy: false })
    const off = await fetch(`${base}/healthz`)
    t.equal(off.status, 503, '/healthz 503 after /health/off (seen by another connection)')
    t.same(await off.json(), { healthy: false })
    t.same((await json(`${base}/health`))[1], { healthy: false }, '/health shows the state')
    t.equal((await fetch(`${base}/`)).status, 200, '/ still serves')
    await fetch(`${base}/health/on`).then((r) => r.text())
    t.equal((await fetch(`${base}/healthz`)).status, 200, 'back after /health/on')
  })

  t.test('burn', async (t) => {
    const t0 = performance.now()
    const [status, body] = await json(`${base}/burn?ms=200`)
    const took = performance.now() - t0
    t.equal(status, 200)
    t.equal(body.burnedMs, 200)
    t.ok(took >= 200 && took < 2000, `took ${took.toFixed(0)} ms`)
    t.equal((await json(`${base}/burn?ms=-5`))[1].burnedMs, 0, 'a negative burn is none')
  })

  t.test('one log line per request', async (t) => {
    await fetch(`${base}/logged-path`, { method: 'POST', body: 'hello' }).then((r) => r.text())
    const logs = await waitFor(async () => {
      const out = await tb.docker('h1')('logs', web)
      return /^POST \/logged-path 200 \d+ #\d+$/m.test(out) && out
    }, { what: 'the POST in docker logs' })
    t.match(logs, /^GET \/healthz 503 18 #\d+$/m, 'status and bytes')
    const counters = [...logs.matchAll(/ #(\d+)$/gm)].map((m) => Number(m[1]))
    t.same(counters, counters.map((_, i) => i + 1), 'the counter numbers every request across connections')
  })

  t.test('SIGTERM lets a request in flight finish, then the container exits', async (t) => {
    const c = await tb.run('h1')
    const cip = await tb.ipOf('h1', c)
    await waitFor(() => json(`http://${cip}/`), { what: 'second container' })
    const idle = new http.Agent({ keepAlive: true })
    t.teardown(() => idle.destroy())
    await get(idle, `http://${cip}/idle`) // an idle keep-alive connection must not hold the stop
    const burning = json(`http://${cip}/burn?ms=600`)
    await new Promise((r) => setTimeout(r, 150))
    const t0 = performance.now()
    await tb.stop('h1', c, 10)
    const stopMs = performance.now() - t0
    const [status, body] = await burning
    t.equal(status, 200, 'the burn finished')
    t.equal(body.burnedMs, 600)
    t.ok(stopMs < 2000, `docker stop took ${stopMs.toFixed(0)} ms (not the 10 s timeout)`)
    t.equal((await tb.inspect('h1', c)).State.ExitCode, 0, 'exit code 0')
  })

  t.test('SIGTERM: connections made before it get their request served', async (t) => {
    const c = await tb.run('h1')
    const cip = await tb.ipOf('h1', c)
    await waitFor(() => json(`http://${cip}/`), { what: 'third container' })
    // early: connected, request sent only after the SIGTERM.
    const early = new net.Socket()
    let earlyText = ''
    const earlyDone = new Promise((resolve) => { early.on('data', (d) => { earlyText += d.toString() }); early.on('close', resolve) })
    await new Promise<void>((resolve) => early.connect(80, cip, resolve))
    // queued: made while the server is stopped (SIGSTOP), so it sits in the
    // listen backlog when the SIGTERM arrives (closing the listener would reset it).
    await tb.docker('h1')('kill', '-s', 'STOP', c)
    const queued = exchange(cip, 'GET /queued HTTP/1.1\r\nHost: t\r\n\r\n')
    await new Promise((r) => setTimeout(r, 200))
    await tb.docker('h1')('kill', '-s', 'TERM', c)
    await tb.docker('h1')('kill', '-s', 'CONT', c)
    await new Promise((r) => setTimeout(r, 200))
    early.write('GET /early HTTP/1.1\r\nHost: t\r\n\r\n')
    await earlyDone
    t.same(responses(earlyText).map(([s]) => s), [200], 'the idle connection\'s first request after SIGTERM is served')
    const q = await queued
    t.same(responses(q.text).map(([s, b]) => [s, JSON.parse(b)]), [[200, { host: c.slice(0, 12), ips: [cip] }]], 'the backlog connection is served, not reset')
    await waitFor(async () => !(await tb.inspect('h1', c)).State.Running, { what: 'container exit' })
  })

  t.test('the shell-less image', async (t) => {
    const c = await tb.run('h1', { image: TEST_IMAGE_NOSHELL, env: { DG_HTTPD_QUIET: '1' } })
    const cip = await tb.ipOf('h1', c)
    const [, id] = await waitFor(() => json(`http://${cip}/`), { what: 'noshell container' })
    t.same(id, { host: c.slice(0, 12), ips: [cip] }, 'serves its identity, written by dg-httpd itself')
    t.equal(await tb.docker('h1')('logs', c), '', 'DG_HTTPD_QUIET=1: no log lines')
    await t.rejects(tb.docker('h1')('exec', c, 'sh', '-c', 'true'), 'no /bin/sh')
    await t.rejects(tb.docker('h1')('exec', c, '/bin/busybox', 'true'), 'no busybox')
    const t0 = performance.now()
    await tb.stop('h1', c, 10)
    t.ok(performance.now() - t0 < 2000, 'dg-httpd as pid 1 stops on SIGTERM')
  })
})
