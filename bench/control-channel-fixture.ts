// The fixture of the push benches (bench/lua-push.ts, bench/push-rtt.ts): a
// real nats-server and nginx with the Lua module, a lua renderer run once to
// install the control channel (then stopped, so only the bench pushes), and
// a ControlChannel to the status port.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'nats'
import { startNats, startNginx, freePort, waitFor, type NginxServer } from '../test/harness/index.js'
import { ensureBuckets } from '../src/bus/index.js'
import { silentLogger } from '../src/core/index.js'
import { createRenderer } from '../src/renderer/index.js'
import { ControlChannel } from '../src/renderer/control-channel.js'
import { exampleHttpBody } from '../test/integration/renderer-fixtures.js'

export interface ControlChannelBed {
  nginx: NginxServer
  statusPort: number
  channel: ControlChannel
  close: () => Promise<void>
}

export async function startControlChannel (tag: string): Promise<ControlChannelBed> {
  const nats = await startNats()
  const out = mkdtempSync(join(tmpdir(), `dg-${tag}-`))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: true })
  const nc = await connect({ servers: nats.url })
  const statusPort = await freePort()
  const renderer = createRenderer({
    id: 'bench', prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort, minWaitMs: 0, maxWaitMs: 1000, reloadTimeoutMs: 60_000, announceIntervalMs: 60_000, mode: 'lua',
  }, { nc, log: silentLogger() })
  const channel = new ControlChannel(statusPort, 60_000)
  const close = async (): Promise<void> => {
    channel.close(); await renderer.close(); await nc.close(); await nginx.stop(); await nats.stop()
    rmSync(out, { recursive: true, force: true })
  }
  try {
    await ensureBuckets(nc)
    await renderer.start()
    await waitFor(() => renderer.generation > 0, { what: 'control channel installed', timeoutMs: 60_000 })
    await renderer.close()
  } catch (err) { await close(); throw err }
  return { nginx, statusPort, channel, close }
}
