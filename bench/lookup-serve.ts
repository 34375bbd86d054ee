// Child process for the lookup benchmarks, so the server under test can be
// pinned to its own core (taskset) like dnsmasq is:
//   lookup <natsUrl>   startLookup on loopback (HTTP + DNS, ports 0)
//   bare <bodyFile>    a bare node:http server answering every request with the file
//   udp-echo           a bare node:dgram socket echoing each packet (Node's UDP ceiling)
// Prints one JSON line {"httpPort","dnsPort"} when ready; exits on SIGTERM.
import { createServer } from 'node:http'
import { readFileSync } from 'node:fs'
import { connect } from 'nats'
import { Registry } from 'prom-client'
import { openBucket, Buckets } from '../src/bus/index.js'
import { silentLogger } from '../src/core/index.js'
import { startLookup } from '../src/registry/lookup/index.js'

const [mode, arg] = process.argv.slice(2)

if (mode === 'bare') {
  const body = readFileSync(arg)
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-driftgate-index': '1', 'content-length': body.length })
    res.end(body)
  })
  server.listen(0, '127.0.0.1', () => {
    const a = server.address()
    process.stdout.write(JSON.stringify({ httpPort: typeof a === 'object' && a !== null ? a.port : 0 }) + '\n')
  })
  process.once('SIGTERM', () => server.close(() => process.exit(0)))
} else if (mode === 'udp-echo') {
  // The ceiling of Node's own UDP path: answer each packet with itself (QR set), no DNS work at all.
  const { createSocket } = await import('node:dgram')
  const sock = createSocket('udp4')
  sock.on('message', (m, r) => { m[2] |= 0x80; sock.send(m, r.port, r.address) })
  sock.bind(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ dnsPort: sock.address().port }) + '\n'))
  process.once('SIGTERM', () => sock.close(() => process.exit(0)))
} else if (mode === 'lookup') {
  const nc = await connect({ servers: arg })
  const kv = {
    endpoints: await openBucket(nc, Buckets.endpoints),
    hosts: await openBucket(nc, Buckets.hosts),
    services: await openBucket(nc, Buckets.services),
  }
  const lookup = await startLookup({
    nc, kv, log: silentLogger(), metrics: new Registry(),
    // One dnsperf client on loopback would hit the per-client DNS rate limit (1000/s by default):
    // the bench keeps the limiter in the path but out of the way (DNS_RATE=0 turns it off).
    config: { httpPort: 0, httpHost: '127.0.0.1', dnsPort: 0, dnsHost: '127.0.0.1', dnsRateLimit: Number(process.env.DNS_RATE ?? 10_000_000), dnsRateBurst: 10_000_000 },
  })
  process.stdout.write(JSON.stringify({ httpPort: lookup.httpPort, dnsPort: lookup.dnsPort, services: lookup.view.names().length }) + '\n')
  process.once('SIGTERM', () => { void lookup.close().then(() => nc.close()).then(() => process.exit(0)) })
} else {
  process.stderr.write('usage: lookup-serve.ts lookup <natsUrl> | bare <bodyFile>\n')
  process.exit(2)
}
