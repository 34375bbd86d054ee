// `driftgate renderer`: one per nginx. See src/renderer/.
import type { Command } from 'commander'
import { loadConfig, createLogger } from '../core/index.js'
import { serveMetrics } from './metrics-server.js'
import { addCommonRoleOptions, int, natsOptionsFrom, runUntilSignal } from './common.js'
import {
  createRenderer, rendererSchema, resolveRendererConfig, defaultRendererId, type RendererFileConfig,
} from '../renderer/index.js'

export function register (program: Command): void {
  const cmd = program.command('renderer')
    .description('render nginx upstreams from the endpoint table, validate with nginx -t, reload gracefully')
    .option('--out <dir>', 'folder of generated *.conf files (include <dir>/*.conf inside http {}) [env DRIFTGATE_OUT]')
    .option('--nginx-conf <file>', 'main nginx.conf, tested with nginx -t -c [env DRIFTGATE_NGINX_CONF]')
    .option('--templates <dir>', 'your nunjucks templates (upstream.conf.njk, driftgate.conf.njk); missing ones come from the bundled set')
    .option('--nginx-bin <path>', 'nginx binary (default nginx)')
    .option('--nginx-prefix <dir>', 'nginx -p prefix, for a main config with relative paths')
    .option('--nginx-pid <file>', 'nginx master pid file (default: the pid directive of --nginx-conf)')
    .option('--id <name>', 'renderer id in driftgate.applied.<id> (DNS label; default: the host name)')
    .option('--min-wait <duration>', 'quiet time that ends a burst of changes (default 50ms)')
    .option('--max-wait <duration>', 'longest a change waits during a burst (default 1s)')
    .option('--status-port <port>', 'loopback port of the generated status and 503 listeners (default 8597)', int)
    .option('--reload-timeout <duration>', 'how long a reload may take to show the new generation (default 10s)')
    .addHelpText('after', `
Example:
  # nginx.conf has, inside http {}:  include /etc/nginx/driftgate/*.conf;
  driftgate renderer --nats nats://10.0.0.5:4222 --out /etc/nginx/driftgate \\
    --nginx-conf /etc/nginx/nginx.conf --metrics-port 9597
  # then route with: location / { proxy_pass http://web; }   (web = a service name)`)
  addCommonRoleOptions(cmd)
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags = { ...opts, id: opts.id ?? (process.env.DRIFTGATE_ID == null ? defaultRendererId() : undefined) }
    const file = loadConfig<RendererFileConfig>({ role: 'renderer', schema: rendererSchema, flags, file: opts.config as string | undefined })
    const log = createLogger({ role: 'renderer', level: file.logLevel })
    const renderer = createRenderer(resolveRendererConfig(file), { log, natsOptions: natsOptionsFrom(file, `driftgate-renderer-${file.id}`) })
    await renderer.start()
    const metrics = file.metricsPort != null ? await serveMetrics(renderer.registry, file.metricsPort) : undefined
    process.exitCode = await runUntilSignal(log, {
      close: async () => { await metrics?.close(); await renderer.close() },
    })
  })
}
