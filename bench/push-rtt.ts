// The lua control channel's round trip alone: a one-service delta pushed
// through the renderer's ControlChannel (node:http, keep-alive) beside the
// same bytes written on a raw kept-alive socket, and a GET of the dict state,
// alternating, against real nginx with the Lua module. Says how much of the
// renderer's "change seen → push answered" is the HTTP client, how much
// nginx and the loopback round trip on this machine.
//   npm run bench -- bench/push-rtt.ts      env: BENCH_ROUNDS (default 300)
import { connect as tcp } from 'node:net'
import { startControlChannel } from './control-channel-fixture.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300)
const pct = (v: number[], p: number): number => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const { statusPort, channel, close } = await startControlChannel('rtt')

/** One raw keep-alive socket: write the request, resolve at the end of the answer's body. */
async function rawSocket (): Promise<{ send: (body: string) => Promise<void>, close: () => void }> {
  const s = tcp({ host: '127.0.0.1', port: statusPort })
  s.setNoDelay(true)
  await new Promise((resolve) => s.once('connect', resolve))
  let buf = ''
  let waiting: (() => void) | null = null
  s.setEncoding('utf8').on('data', (c: string) => {
    buf += c
    const h = buf.indexOf('\r\n\r\n')
    if (h < 0) return
    const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, h))?.[1] ?? 0)
    if (buf.length >= h + 4 + len) { buf = buf.slice(h + 4 + len); const w = waiting; waiting = null; w?.() }
  })
  return {
    send: async (body) => await new Promise<void>((resolve) => {
      waiting = resolve
      s.write(`POST /driftgate/endpoints HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    }),
    close: () => s.destroy(),
  }
}

try {
  const raw = await rawSocket()
  const viaHttp: number[] = []; const viaRaw: number[] = []; const gets: number[] = []
  let gen = 1000
  const body = (g: number): string => `driftgate 1\ngen ${g}\nsvc web round_robin 1 10000 10.240.0.${2 + (g % 200)}:80:1\n`
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now()
    await channel.push(body(++gen))
    viaHttp.push(performance.now() - t0)
    t0 = performance.now()
    await raw.send(body(++gen))
    viaRaw.push(performance.now() - t0)
    t0 = performance.now()
    await channel.get()
    gets.push(performance.now() - t0)
  }
  raw.close()
  const line = (what: string, v: number[]): string => `${what}: p50 ${pct(v, 0.5).toFixed(2)} ms, p90 ${pct(v, 0.9).toFixed(2)} ms, p99 ${pct(v, 0.99).toFixed(2)} ms`
  console.log(line(`one-service delta through ControlChannel (node:http), ${ROUNDS}`, viaHttp))
  console.log(line('same bytes on a raw kept-alive socket', viaRaw))
  console.log(line('GET of the dict state through ControlChannel', gets))
  console.log(`ratio raw / node:http at p50: ${(pct(viaRaw, 0.5) / pct(viaHttp, 0.5)).toFixed(2)}`)
} finally {
  await close()
}
