// `driftgate renderer`: one per nginx. See src/renderer/.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import type { Renderer } from '../renderer/index.js'
import { createLogger } from '../core/index.js'
import { serveMetrics } from './metrics-server.js'
import { setHeapGrowing } from './v8-heap.js'
import { addRoleOptions, explicitFlags, natsOptionsFrom, runUntilSignal } from './common.js'
import {
  createRenderer, rendererSchema, resolveRendererConfig, loadRendererConfig, type RendererFileConfig,
} from '../renderer/index.js'

export function register (program: Command): void {
  const cmd = program.command('renderer')
    .description(descriptionOf('renderer'))
  addRoleOptions(cmd, rendererSchema)
  cmd
    .addHelpText('after', `
Example:
  # nginx.conf has, inside http {}:  include /etc/nginx/driftgate/*.conf;
  driftgate renderer --nats nats://10.0.0.5:4222 --out /etc/nginx/driftgate \\
    --nginx-conf /etc/nginx/nginx.conf --metrics-port 9597
  # then route with: location / { proxy_pass http://web; }   (web = a service name)
  # consul-template habits: render once (exit 0, or 1 with the reason), or show what would change
  driftgate renderer --once --out /etc/nginx/driftgate --nginx-conf /etc/nginx/nginx.conf
  driftgate renderer --dry-run --out /etc/nginx/driftgate --nginx-conf /etc/nginx/nginx.conf
  # nginx in another container: reload it with a command (still confirmed through --status-port)
  driftgate renderer ... --reload-cmd "docker kill -s HUP edge-nginx"
  # HTTPS for every host a certificate in the folder names (certbot's or <name>.crt/.key)
  driftgate renderer ... --certs /etc/letsencrypt --https-listen 443`)
  cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    const file = loadRendererConfig(explicitFlags(self) as Partial<RendererFileConfig>, process.env, opts.config as string | undefined)
    setHeapGrowing(file.heapGrowingPercent) // old generation: docs/scaling.md "Memory by size"
    // --dry-run prints the diff on stdout: logs go to stderr then
    const log = createLogger({ role: 'renderer', level: file.logLevel, ...(file.dryRun ? { destination: process.stderr } : {}) })
    const renderer = createRenderer(resolveRendererConfig(file), { log, natsOptions: natsOptionsFrom(file, `driftgate-renderer-${file.id}`) })
    if (file.once || file.dryRun) {
      process.exitCode = await oneShot(renderer, file.dryRun)
      return
    }
    await renderer.start()
    const metrics = file.metricsPort != null ? await serveMetrics(renderer.registry, file.metricsPort) : undefined
    process.exitCode = await runUntilSignal(log, {
      close: async () => { await metrics?.close(); await renderer.close() },
    })
  })
}

/** --once / --dry-run: the exit code; the reason (or the diff) on stderr (stdout). */
async function oneShot (renderer: Renderer, dryRun: boolean): Promise<number> {
  try {
    if (dryRun) process.stdout.write(await renderer.dryRun())
    else await renderer.runOnce()
    return 0
  } catch (err) {
    process.stderr.write(`driftgate renderer: ${dryRun ? 'dry run' : 'once'} failed: ${(err as Error).message}\n`)
    return 1
  } finally {
    await renderer.close()
  }
}
