// The convergence bench's stopwatch, in its own process so the roles in the
// bench process cannot delay it: CONNS keep-alive connections ask nginx for
// `/` (Host: <host>) while an address is being watched: back to back, with
// no sleep, once a `hot <ip>` line says its record is on NATS (see COLD_MS).
// The first answer whose body names the watched address prints
// `served <ip> <epoch ms, µs precision> <direct epoch ms>`; the stopwatch
// stops asking until the next `watch <ip>` line on stdin. <direct> is when
// the container itself first answered `GET /` on <ip>:80 (fresh connections,
// from the `direct <ip>` line on, sent once its container started; 0: not
// within 2 s of being served): was it listening when nginx learned of it?
// nginx on loopback, the container on its testbed address; stops when stdin ends.
// Args: <port> <host header> [conns, default 2]
import { Agent, request } from 'node:http'
import { createInterface } from 'node:readline'

const [port, host] = [Number(process.argv[2]), process.argv[3]]
const conns = Math.max(1, Math.min(8, Number(process.argv[4] ?? 2)))
const agent = new Agent({ keepAlive: true, maxSockets: conns })
const now = () => performance.timeOrigin + performance.now()
let watched = null
// Back to back only while `hot`: from the moment the bench sees the endpoint
// record on NATS (the renderer cannot route it earlier) until it is served.
// Before that, one request per COLD_MS per connection: a stopwatch that asks
// back to back through a whole `docker run` takes a core of a 2-core machine
// from the renderer and nginx it is timing. Seeing the record late can only
// make the figure longer, never shorter.
const COLD_MS = 10
let hot = false
let closed = false
// every sleeping loop, not just the last one to sleep (each has its connection)
let sleepers = []
const wake = () => { const s = sleepers; sleepers = []; for (const r of s) r() }
/** ip → when the container first answered directly (a promise while asking). */
const direct = new Map()

function askDirect (ip) {
  return new Promise((resolve) => {
    const req = request({ host: ip, port: 80, path: '/', agent: false, timeout: 1000 }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode >= 200 && res.statusCode < 300 ? now() : 0))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(0))
    req.end()
  })
}

/**
 * A new attempt every 2 ms (at most 8 in flight, each waiting up to 1 s):
 * an attempt whose SYN waits for ARP does not hide a later one that would
 * be answered. Resolves with the first 2xx's time (0 after 30 s).
 */
function directProbe (ip) {
  return new Promise((resolve) => {
    const until = now() + 30_000
    let inFlight = 0
    let done = false
    const finish = (at) => { if (!done) { done = true; clearInterval(timer); resolve(at) } }
    const timer = setInterval(() => {
      if (closed || now() > until) { finish(0); return }
      if (inFlight >= 8) return
      inFlight++
      void askDirect(ip).then((at) => { inFlight--; if (at > 0) finish(at) })
    }, 2)
  })
}

function ask () {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 2000 }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c) => { body += c }).on('end', () => resolve({ at: now(), body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({ at: now(), body: '' }))
    req.end()
  })
}

/** Prints the served line once the direct probe answered (0: not within 2 s of being served). */
async function report (ip, at) {
  const until = now() + 2000
  while (!direct.has(ip) && now() < until) await new Promise((resolve) => setTimeout(resolve, 5))
  const late = new Promise((resolve) => setTimeout(resolve, Math.max(0, until - now()), 0))
  const d = await Promise.race([direct.get(ip) ?? late, late])
  direct.delete(ip)
  process.stdout.write(`served ${ip} ${at.toFixed(3)} ${d.toFixed(3)}\n`)
}

/** Sleeps up to ms, or until woken (a `hot` or `watch` line). */
const nap = (ms) => new Promise((resolve) => { const t = setTimeout(resolve, ms); sleepers.push(() => { clearTimeout(t); resolve() }) })

async function loop () {
  while (!closed) {
    if (watched === null) { await new Promise((resolve) => { sleepers.push(resolve) }); continue }
    const ip = watched
    const r = await ask()
    if (watched === ip && r.body.includes(`"${ip}"`)) {
      watched = null
      hot = false
      void report(ip, r.at)
    } else if (!hot && watched === ip) await nap(COLD_MS)
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, ip] = line.trim().split(' ')
  if (cmd === 'watch') { watched = ip; hot = false; wake() }
  // the bench saw the endpoint record on NATS: from now on the renderer may
  // route it, so ask back to back (before it, nothing can serve the address)
  if (cmd === 'hot' && ip === watched) { hot = true; wake() }
  // sent once the container started: probing an address before its
  // container exists would leave a failed ARP entry nginx then waits on
  if (cmd === 'direct') direct.set(ip, directProbe(ip))
}).on('close', () => { closed = true; watched = null; wake(); agent.destroy() })
for (let i = 0; i < conns; i++) void loop()
