// `driftgate renderer`: one per nginx. See src/renderer/.
import type { Command } from 'commander'
import { createLogger } from '../core/index.js'
import { serveMetrics } from './metrics-server.js'
import { addRoleOptions, explicitFlags, natsOptionsFrom, runUntilSignal } from './common.js'
import {
  createRenderer, rendererSchema, resolveRendererConfig, loadRendererConfig, type RendererFileConfig,
} from '../renderer/index.js'

export function register (program: Command): void {
  const cmd = program.command('renderer')
    .description('render nginx upstreams from the endpoint table, validate with nginx -t, reload gracefully')
  addRoleOptions(cmd, rendererSchema)
  cmd
    .addHelpText('after', `
Example:
  # nginx.conf has, inside http {}:  include /etc/nginx/driftgate/*.conf;
  driftgate renderer --nats nats://10.0.0.5:4222 --out /etc/nginx/driftgate \\
    --nginx-conf /etc/nginx/nginx.conf --metrics-port 9597
  # then route with: location / { proxy_pass http://web; }   (web = a service name)`)
  cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    const file = loadRendererConfig(explicitFlags(self) as Partial<RendererFileConfig>, process.env, opts.config as string | undefined)
    const log = createLogger({ role: 'renderer', level: file.logLevel })
    const renderer = createRenderer(resolveRendererConfig(file), { log, natsOptions: natsOptionsFrom(file, `driftgate-renderer-${file.id}`) })
    await renderer.start()
    const metrics = file.metricsPort != null ? await serveMetrics(renderer.registry, file.metricsPort) : undefined
    process.exitCode = await runUntilSignal(log, {
      close: async () => { await metrics?.close(); await renderer.close() },
    })
  })
}
