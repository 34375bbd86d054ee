// A three-node (or n-node) JetStream cluster on loopback, routes between all
// nodes, ready once every node sees the same JetStream meta leader.
import { waitFor } from '../../src/lab/index.js'
import { newNatsGroup, type NatsOptions } from './nats.js'

export interface NatsClusterNode {
  name: string
  url: string
  port: number
  monitorPort: number
  storeDir: string
  readonly pid: number
  stop(): Promise<void>
  /** Starts a stopped node (or restarts a running one) with the same ports and store. */
  restart(): Promise<void>
}

export interface NatsCluster {
  urls: string[]
  nodes: NatsClusterNode[]
  /** Current JetStream meta leader's server name, as the given node sees it. */
  metaLeader(node?: number): Promise<string | undefined>
  stop(): Promise<void>
}

export async function startNatsCluster(size = 3, opts: NatsOptions = {}): Promise<NatsCluster> {
  const names = Array.from({ length: size }, (_, i) => `n${i + 1}`)
  const clusterName = `dgc${Date.now().toString(36)}`
  const group = await newNatsGroup(names, opts, (i, cports) => [
    '--cluster_name', clusterName,
    '--cluster', `nats://127.0.0.1:${cports[i]}`,
    '--routes', cports.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`).join(','),
  ])
  const timeout = opts.timeoutMs ?? 60_000
  // A node is ready when it knows the meta leader and /healthz says its
  // JetStream assets are current (after a restart it has to catch up first).
  const ready = (i: number) => async () => !!(await group.nodes[i].metaLeader()) && group.nodes[i].healthy()
  try {
    await Promise.all(group.nodes.map((n) => n.start(timeout, () => n.monitor('/varz').then(Boolean, () => false))))
    group.savePids()
    await Promise.all(group.nodes.map((_, i) => waitFor(ready(i), { timeoutMs: timeout, what: `meta leader seen by n${i + 1}` })))
  } catch (err) {
    await group.stop()
    throw err
  }
  const nodes = group.nodes.map((n, i): NatsClusterNode => ({
    name: n.name, url: n.url, port: n.port, monitorPort: n.monitorPort, storeDir: n.storeDir,
    get pid() { return n.pid },
    stop: async () => { await n.stop(); group.savePids() },
    restart: async () => {
      await n.stop()
      await n.start(timeout, ready(i))
      group.savePids()
    },
  }))
  return {
    urls: nodes.map((n) => n.url),
    nodes,
    metaLeader: (i = 0) => group.nodes[i].metaLeader(),
    stop: () => group.stop(),
  }
}
