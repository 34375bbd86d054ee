// What the placement, console, health and autoscale end-to-end tests share:
// the testbed with its nats-server, the registry's sub-components (placement,
// activity, the lookup API on loopback), one agent per testbed host (it runs
// its assignments, drain timings shortened for tests), an edge (nginx + a
// renderer) and the load client.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, type NatsConnection } from 'nats'
import { Testbed, startNats, startNginx, freePort, type NatsServer, type NginxServer } from '../harness/index.js'
import type { Logger } from '../../src/core/index.js'
import { createAgent, resolveAgentConfig, type AgentConfig } from '../../src/agent/index.js'
import { createRenderer, type Renderer } from '../../src/renderer/index.js'
import type { FastifyPluginAsync } from 'fastify'
import type { Registry as PromRegistry } from 'prom-client'
import type { RegistryContext, SubComponent, SubComponentStarter } from '../../src/registry/index.js'
import { activityComponent } from '../../src/registry/components.js'
import { startLookup } from '../../src/registry/lookup/index.js'
import { startPlacement, serviceRoutes, type Placement, type PlacementConfig } from '../../src/placement/index.js'
import { exampleHttpBody } from '../integration/renderer-fixtures.js'

interface Teardown { teardown: (fn: () => unknown) => void }

/** The lookup API on loopback (random HTTP and DNS ports) with the given tokens and route plugins; its URL goes to `onApi`. */
export async function startLoopbackLookup (ctx: RegistryContext, o: {
  log: Logger, metrics?: PromRegistry, apiToken: string[], apiReadToken?: string[], plugins: FastifyPluginAsync[], onApi: (url: string) => void
}): Promise<SubComponent> {
  const l = await startLookup({
    nc: ctx.nc, kv: { endpoints: ctx.kv.endpoints, hosts: ctx.kv.hosts, services: ctx.kv.services }, log: o.log, metrics: o.metrics ?? ctx.metrics,
    config: { httpPort: 0, httpHost: '127.0.0.1', dnsPort: 0, dnsHost: '127.0.0.1', apiToken: o.apiToken, ...(o.apiReadToken != null ? { apiReadToken: o.apiReadToken } : {}) },
    plugins: o.plugins,
  })
  o.onApi(`http://127.0.0.1:${l.httpPort}`)
  return l
}

export interface ControlPlaneOptions {
  log: Logger
  /** The API's write token. */
  token: string
  /** On top of the tests' lease 3 s and debounce 100 ms. */
  placementConfig?: PlacementConfig
  /** Placement reads the renderers' service load (autoscaling). */
  load?: boolean
  /** Runs the activity publisher. */
  activity?: boolean
  /** The API's route plugins (default: the service routes). */
  routes?: (ctx: RegistryContext, placement: Placement | undefined) => FastifyPluginAsync[]
  onPlacement: (p: Placement) => void
  onApi: (url: string) => void
}

/** The registry sub-components the e2e tests run: placement, the activity publisher (optional) and the lookup API. */
export function controlPlane (o: ControlPlaneOptions): SubComponentStarter[] {
  let placement: Placement | undefined
  const placementStarter: SubComponentStarter = {
    name: 'placement',
    start: async (ctx) => {
      placement = await startPlacement({
        nc: ctx.nc, kv: ctx.kv, log: o.log, metrics: ctx.metrics, ...(o.load === true ? { load: ctx.load } : {}),
        config: { leaseMs: 3000, debounceMs: 100, ...o.placementConfig },
      })
      o.onPlacement(placement)
      return placement
    },
  }
  const lookup: SubComponentStarter = {
    name: 'lookup',
    start: async (ctx) => await startLoopbackLookup(ctx, {
      log: o.log, apiToken: [o.token], onApi: o.onApi,
      plugins: o.routes?.(ctx, placement) ?? [serviceRoutes({ kv: ctx.kv, tables: placement?.tables, log: o.log })],
    }),
  }
  return [placementStarter, ...(o.activity === true ? [activityComponent] : []), lookup]
}

/** One Docker host's driftgate side: the agent, which runs its assignments (reconcile defaults to on). */
export async function startHost (tb: Testbed, i: number, natsUrl: string, log: Logger, extra: Partial<AgentConfig> = {}): Promise<{ close: () => Promise<void> }> {
  const h = tb.hosts[i]
  const agent = createAgent(resolveAgentConfig({ ipamDriver: false, hostId: h.name, docker: h.socketPath, nats: natsUrl, network: 'mv0', heartbeatInterval: '1s', ...extra }), {
    log, reconcilerTimings: { intervalMs: 2000, warmupMs: 1000, drainTimeoutMs: 15_000, rendererSilentMs: 12_000 },
  })
  await agent.start()
  return agent
}

/**
 * nginx with the example config and a renderer `id` driving it, torn down with the test.
 * `lua`: nginx loads the Lua module, so the renderer runs in lua mode (and reports service load).
 */
export async function startEdge (t: Teardown, id: string, nc: NatsConnection, log: Logger, opts: { lua?: boolean } = {}): Promise<{ nginx: NginxServer, renderer: Renderer }> {
  const out = mkdtempSync(join(tmpdir(), `dg-${id}-out-`))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const nginx = await startNginx({ includeDir: out, conf: exampleHttpBody(), lua: opts.lua === true })
  t.teardown(async () => await nginx.stop())
  const renderer = createRenderer({
    id, prefix: 'driftgate', out, nginxConf: nginx.confPath, nginxPrefix: `${nginx.prefix}/`, nginxBin: '/usr/sbin/nginx',
    statusPort: await freePort(), minWaitMs: 50, maxWaitMs: 1000, reloadTimeoutMs: 10_000, announceIntervalMs: 5000,
  }, { nc, log })
  await renderer.start()
  t.teardown(async () => await renderer.close())
  return { nginx, renderer }
}

/** One request of test/e2e/load-client.mjs: [start epoch ms, latency ms, status (0 = socket error), retried 0/1, error]. */
export type Sample = [number, number, number, number, string | null]

/**
 * A bounded keep-alive GET load on `web.example.com` through nginx, in its
 * own process (load-client.mjs) so the roles in the test process do not slow
 * it; `stop()` ends it and returns every request's sample.
 */
export function startLoad (t: Teardown, port: number, conns: number, maxMs = 600_000): { stop: () => Promise<Sample[]> } {
  const client = join(dirname(fileURLToPath(import.meta.url)), 'load-client.mjs')
  const child = spawn(process.execPath, [client, String(port), 'web.example.com', String(conns), String(maxMs), 'keepalive'], { stdio: ['pipe', 'pipe', 'inherit'] })
  let text = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { text += c })
  const done = new Promise<Sample[]>((resolve) => child.on('exit', () => {
    resolve(text === '' ? [] : (JSON.parse(text) as { samples: Sample[] }).samples)
  }))
  t.teardown(() => { if (child.exitCode == null) child.kill('SIGKILL') })
  return { stop: async () => { child.stdin.end(); return await done } }
}

/** The testbed (`hosts` Docker hosts), a nats-server and a connection to it, each torn down with `t`. */
export async function startBed (t: Teardown, name: string, hosts: number): Promise<{ tb: Testbed, nats: NatsServer, nc: NatsConnection }> {
  const tb = await Testbed.create({ hosts, name })
  t.teardown(async () => await tb.teardown())
  const nats = await startNats()
  t.teardown(async () => await nats.stop())
  const nc = await connect({ servers: nats.url })
  t.teardown(async () => await nc.close())
  return { tb, nats, nc }
}
