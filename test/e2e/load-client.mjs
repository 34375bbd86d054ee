// Bounded HTTP load through nginx, in its own process so the load's timing is
// not disturbed by the roles running in the test process.
// Args: <port> <host header> <concurrency> <max duration ms> [keepalive|noretry|post|close]. Stops at the
// max duration or when stdin closes, then prints one JSON line:
// { samples: [[startEpochMs, latencyMs, status (0 = socket error), retried 0/1, error?]] }.
// Keep-alive connections, like a browser or a proxy in front. A request sent on
// a reused connection that nginx closed as idle (old workers do that on
// reload) fails with a reset before any byte of answer: like browsers and
// undici, the client retries such an idempotent GET once on a new connection
// and the sample says `retried`. Any other failure is a failure. In `close`
// mode every request has its own connection and nothing is ever retried.
// `noretry`: keep-alive GETs that are never retried (a closed idle
// connection counts as a failure). `post`: keep-alive POSTs with a small
// body, never retried (non-idempotent: no client may replay them).
import { Agent, request } from 'node:http'

const [port, host, concurrency, maxMs] = process.argv.slice(2, 6).map((v, i) => (i === 1 ? v : Number(v)))
const mode = process.argv[6] ?? 'keepalive'
const keepAlive = mode !== 'close'
const retry = mode === 'keepalive'
const method = mode === 'post' ? 'POST' : 'GET'
const body = 'driftgate=churn\n'
const agent = keepAlive ? new Agent({ keepAlive, maxSockets: concurrency }) : false
const samples = []
let stop = false
process.stdin.on('end', () => { stop = true }).resume()
const hard = setTimeout(() => { stop = true }, maxMs)

function once (fresh = false) {
  return new Promise((resolve) => {
    let reused = false
    const headers = keepAlive && !fresh ? { host } : { host, connection: 'close' }
    if (method === 'POST') Object.assign(headers, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
    const req = request({ host: '127.0.0.1', port, path: '/', method, headers, agent: fresh ? false : agent, timeout: 10_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }))
      res.on('error', (err) => resolve({ status: 0, error: `${err.code ?? err.message}@response:${res.statusCode}`, code: err.code, reused, answered: true }))
    })
    let phase = 'queued'
    req.on('socket', (s) => {
      reused = s._driftgateUsed === true; s._driftgateUsed = true
      phase = reused ? 'reused' : 'connecting'
      if (!reused) s.once('connect', () => { phase = 'connected' })
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
    req.on('error', (err) => resolve({ status: 0, error: `${err.code ?? err.message}@${phase}`, code: err.code, reused, answered: false }))
    req.end(method === 'POST' ? body : undefined)
  })
}

async function loop () {
  while (!stop) {
    const start = Date.now()
    const t0 = performance.now()
    let r = await once()
    let retried = 0
    if (retry && r.status === 0 && r.reused && !r.answered && ['ECONNRESET', 'EPIPE'].includes(r.code)) {
      retried = 1
      r = await once(true) // on a new connection, as browsers do
    }
    samples.push([start, performance.now() - t0, r.status, retried, r.error ?? null])
  }
}

await Promise.all(Array.from({ length: concurrency }, loop))
clearTimeout(hard)
if (agent) agent.destroy()
process.stdout.write(JSON.stringify({ samples }) + '\n')
