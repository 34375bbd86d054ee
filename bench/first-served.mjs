// The convergence bench's stopwatch, in its own process so the roles in the
// bench process cannot delay it: CONNS keep-alive connections ask nginx for
// `/` (Host: <host>) back to back, with no sleep, while an address is being
// watched. The first answer whose body names the watched address prints
// `served <ip> <epoch ms, µs precision>`; the stopwatch stops asking until
// the next `watch <ip>` line on stdin. Loopback only; stops when stdin ends.
// Args: <port> <host header> [conns, default 2]
import { Agent, request } from 'node:http'
import { createInterface } from 'node:readline'

const [port, host] = [Number(process.argv[2]), process.argv[3]]
const conns = Math.max(1, Math.min(8, Number(process.argv[4] ?? 2)))
const agent = new Agent({ keepAlive: true, maxSockets: conns })
const now = () => performance.timeOrigin + performance.now()
let watched = null
let closed = false
let wake = () => {}

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

async function loop () {
  while (!closed) {
    if (watched === null) { await new Promise((resolve) => { wake = resolve }); continue }
    const ip = watched
    const r = await ask()
    if (watched === ip && r.body.includes(`"${ip}"`)) {
      watched = null
      process.stdout.write(`served ${ip} ${r.at.toFixed(3)}\n`)
    }
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, ip] = line.trim().split(' ')
  if (cmd === 'watch') { watched = ip; wake() }
}).on('close', () => { closed = true; watched = null; wake(); agent.destroy() })
for (let i = 0; i < conns; i++) void loop()
