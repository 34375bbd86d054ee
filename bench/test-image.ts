// Requests/s of the test image's server straight to one container (wrk -t1
// -c8, keep-alive, from the root namespace to its MacVLAN address) on a
// 1-host testbed, side by side:
//   old   dg-httpd of main (fork + close per request), bind-mounted in;
//   new   today's dg-httpd, logging one line per request to Docker;
//   quiet today's dg-httpd with stdout to /dev/null (the cost of the log).
// Median of N rounds (variants interleaved, so load drifts hit all alike).
//   npm run bench -- bench/test-image.ts [rounds] [seconds]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run, tryRun } from '../src/lab/index.js'
import { Testbed, waitFor } from '../test/harness/index.js'

const rounds = Number(process.argv[2] ?? 3)
const seconds = Number(process.argv[3] ?? 5)

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** The server of main, built static into dir (undefined when main has none). */
async function oldHttpd(dir: string): Promise<string | undefined> {
  const src = await tryRun('git', ['show', '718da5b:test/harness/image/dg-httpd.c'])
  if (!src.ok) return undefined
  writeFileSync(join(dir, 'old.c'), src.stdout)
  await run('gcc', ['-static', '-Os', '-o', join(dir, 'old-httpd'), join(dir, 'old.c')])
  return join(dir, 'old-httpd')
}

interface Wrk { rps: number; latencyMs: number; errors: number }

async function wrk(url: string): Promise<Wrk> {
  const out = await run('wrk', ['-t1', '-c8', `-d${seconds}s`, url], { timeoutMs: (seconds + 30) * 1000 })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const lat = /Latency\s+([\d.]+)(us|ms|s)/.exec(out)
  const latencyMs = lat ? Number(lat[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[lat[2]] : NaN
  const err = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const errors = (err ? err.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx
  return { rps, latencyMs, errors }
}

const tmp = mkdtempSync('/tmp/dg-bench-image-')
const tb = await Testbed.create({ hosts: 1, name: 'bench-image' })
try {
  const old = await oldHttpd(tmp)
  const variants: Record<string, string[]> = {
    new: [],
    quiet: ['sh', '-c', 'exec /bin/dg-httpd --identity 80 >/dev/null'],
  }
  if (old) variants.old = ['-v', `${old}:/bin/old-httpd:ro`, '--', 'sh', '-c', 'mkdir -p /www; echo "{\\"host\\":\\"old\\"}" > /www/index.html; exec /bin/old-httpd 80']
  const urls: Record<string, string> = {}
  for (const [name, argv] of Object.entries(variants)) {
    const sep = argv.indexOf('--')
    const id = await tb.run('h1', { name, args: sep >= 0 ? argv.slice(0, sep) : [], cmd: sep >= 0 ? argv.slice(sep + 1) : argv })
    urls[name] = `http://${await tb.ipOf('h1', id)}/`
    await waitFor(() => fetch(urls[name], { signal: AbortSignal.timeout(1000) }).then((r) => r.ok), { what: `${name} answering` })
  }
  const got: Record<string, Wrk[]> = Object.fromEntries(Object.keys(urls).map((k) => [k, []]))
  for (let r = 1; r <= rounds; r++) {
    for (const name of Object.keys(urls)) {
      const w = await wrk(urls[name])
      got[name].push(w)
      console.log(`round ${r} ${name.padEnd(5)}: ${w.rps.toFixed(0)} req/s, mean latency ${w.latencyMs.toFixed(2)} ms, errors ${w.errors}`)
    }
  }
  const m = Object.fromEntries(Object.entries(got).map(([k, ws]) => [k, {
    rps: median(ws.map((w) => w.rps)), lat: median(ws.map((w) => w.latencyMs)), errors: ws.reduce((a, w) => a + w.errors, 0),
  }]))
  console.log(`\nwrk -t1 -c8 -d${seconds}s keep-alive, straight to one container, median of ${rounds}:`)
  for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(5)} ${v.rps.toFixed(0).padStart(7)} req/s  mean latency ${v.lat.toFixed(2)} ms  errors ${v.errors}`)
  if (m.old) console.log(`  new / old = ${(m.new.rps / m.old.rps).toFixed(1)}x`)
  console.log(`  new / quiet = ${(m.new.rps / m.quiet.rps).toFixed(2)} (the per-request log line's cost)`)
} finally {
  await tb.teardown()
  rmSync(tmp, { recursive: true, force: true })
}
