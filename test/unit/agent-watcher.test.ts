// The Docker event watcher against a fake Docker: lines split across chunks,
// reattach with backoff when the stream ends, watchdog on a silent stream.
import t from 'tap'
import { PassThrough } from 'node:stream'
import type Dockerode from 'dockerode'
import { DockerWatcher, type DockerEvent } from '../../src/agent/docker/events.js'
import { silentLogger } from '../../src/core/index.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

function fakeDocker (opts: { failFirst?: number } = {}) {
  const streams: PassThrough[] = []
  let fails = opts.failFirst ?? 0
  let pingOk = true
  let calls = 0
  const docker = {
    getEvents: async (o: { since: number, filters: unknown }) => {
      calls++
      if (fails > 0) { fails--; throw new Error('connect ENOENT docker.sock') }
      t.type(o.since, 'number')
      const s = new PassThrough()
      streams.push(s)
      return s
    },
    ping: async () => { if (!pingOk) throw new Error('down'); return 'OK' },
  } as unknown as Dockerode
  return { docker, streams, setPing: (v: boolean) => { pingOk = v }, calls: () => calls, failNext: (n: number) => { fails = n } }
}

function watcher (docker: Dockerode, watchdogMs = 10_000) {
  const events: DockerEvent[] = []
  const attached: Array<{ first: boolean, attempt: number }> = []
  let retries = 0
  const w = new DockerWatcher({
    docker, log: silentLogger(), watchdogMs, backoff: { baseMs: 5, maxMs: 20 }, now: () => Date.now(),
    onEvent: (e) => events.push(e), onAttached: (a) => attached.push(a), onRetry: () => { retries++ },
  })
  return { w, events, attached, retries: () => retries }
}

t.test('JSON lines across chunks become events; junk is skipped', async (t) => {
  const d = fakeDocker()
  const x = watcher(d.docker)
  await x.w.start()
  d.streams[0].write('{"Type":"container","Action":"start","Actor":{"ID":"a"}}\n{"Type":"cont')
  d.streams[0].write('ainer","Action":"die","Actor":{"ID":"a"}}\nnot json\n{"nope":1}\n')
  await sleep(10)
  t.same(x.events.map((e) => e.Action), ['start', 'die'])
  t.same(x.attached, [{ first: true, attempt: 0 }])
  await x.w.close()
})

t.test('unreachable at start: retries with backoff until it answers', async (t) => {
  const d = fakeDocker({ failFirst: 3 })
  const x = watcher(d.docker)
  await x.w.start()
  t.equal(d.calls(), 4)
  t.equal(x.retries(), 3)
  t.same(x.attached, [{ first: true, attempt: 3 }])
  await x.w.close()
})

t.test('stream end → reattach (after failures) → onAttached again', async (t) => {
  const d = fakeDocker()
  const x = watcher(d.docker)
  await x.w.start()
  d.failNext(2)
  d.streams[0].end()
  await sleep(150)
  t.equal(x.attached.length, 2)
  t.match(x.attached[1], { first: false, attempt: 2 })
  d.streams[1].write('{"Type":"container","Action":"start","Actor":{"ID":"b"}}\n')
  d.streams[0].write?.('') // the old stream is ignored
  await sleep(10)
  t.same(x.events.map((e) => e.Actor.ID), ['b'])
  await x.w.close()
})

t.test('watchdog: silence + failed ping → reattach; silence + ping ok → stay', async (t) => {
  const d = fakeDocker()
  const x = watcher(d.docker, 300)
  await x.w.start()
  await sleep(700)
  t.equal(x.attached.length, 1, 'ping answered: the quiet stream is kept')
  d.setPing(false)
  await sleep(700)
  t.ok(x.attached.length >= 2, 'ping failed: reattached')
  t.ok(d.streams[0].destroyed, 'old stream dropped after the new one was up')
  await x.w.close()
})

t.test('close is idempotent and stops retrying', async (t) => {
  const d = fakeDocker({ failFirst: 1000 })
  const x = watcher(d.docker)
  const started = x.w.start()
  await sleep(50)
  await x.w.close()
  await x.w.close()
  await started
  const n = d.calls()
  await sleep(60)
  t.equal(d.calls(), n, 'no more attempts after close')
})
