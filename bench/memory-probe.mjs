// Loaded into each driftgate process of bench/memory.ts (NODE_OPTIONS
// --import): answers what the process's memory is made of, on a unix socket
// <DG_MEMPROBE_DIR>/<pid>.sock, one command per connection:
//   stats          → process.memoryUsage() and V8's heap and space statistics
//   gc             → a full collection first, then stats (what is live)
//   snap <path>    → a full collection, then a heap snapshot written to <path>
//   hpstart        → V8's sampling heap profiler on, counting objects that die
//                    too (an allocation view: what a phase allocates, not only
//                    what survives)
//   hpstop <path>  → stops it and writes the profile (.heapprofile JSON) to <path>
// The same probe goes into every build compared (the build from before a
// change has no such endpoint of its own), so the figures are alike. Nothing
// happens unless the bench asks; the server does not keep the process alive.
// DG_MEMPROBE_V8="--flag,--flag=n": V8 flags set in the process at start
// (v8.setFlagsFromString), for flags NODE_OPTIONS does not take, e.g.
// --heap-growing-percent, on a build that cannot set them itself.
import { createServer } from 'node:net'
import { join } from 'node:path'
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { writeFileSync } from 'node:fs'

const dir = process.env.DG_MEMPROBE_DIR
for (const flag of (process.env.DG_MEMPROBE_V8 ?? '').split(',').filter((f) => f !== '')) setFlagsFromString(flag)
if (dir) {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  const stats = () => {
    const m = process.memoryUsage()
    const h = getHeapStatistics()
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { used: s.space_used_size, size: s.space_size }]))
    return { pid: process.pid, argv: process.argv.slice(2, 3), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, malloced: h.malloced_memory, spaces }
  }
  let session
  const profiler = async (cmd, arg) => {
    if (cmd === 'hpstart') {
      // loaded only when asked: the probe must not change what it measures
      const { Session } = await import('node:inspector/promises')
      session ??= new Session()
      session.connect()
      await session.post('HeapProfiler.enable')
      await session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
      return stats()
    }
    const { profile } = await session.post('HeapProfiler.stopSampling')
    writeFileSync(arg, JSON.stringify(profile))
    session.disconnect()
    return { path: arg }
  }
  const server = createServer((sock) => {
    sock.setEncoding('utf8')
    sock.once('data', async (line) => {
      const [cmd, arg] = line.trim().split(' ')
      let out
      try {
        if (cmd === 'hpstart' || cmd === 'hpstop') out = await profiler(cmd, arg)
        else {
          if (cmd === 'gc' || cmd === 'snap') gc()
          if (cmd === 'snap') out = { path: writeHeapSnapshot(arg) }
          else out = stats()
        }
      } catch (err) { out = { error: String(err) } }
      sock.end(JSON.stringify(out))
    })
  })
  server.listen(join(dir, `${process.pid}.sock`))
  server.unref()
}
