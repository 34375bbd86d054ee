// Public surface of the driftgate test harness: real nats-server, nginx and
// multi-host Docker testbeds for integration tests and benchmarks. The
// testbed machinery lives in src/lab (the demo runs on it too); this file
// re-exports it so tests keep importing '../harness/index.js'.
export { startNats, type NatsOptions, type NatsServer } from './nats.js'
export { startNatsCluster, type NatsCluster, type NatsClusterNode } from './nats-cluster.js'
export { startNginx, type NginxOptions, type NginxServer } from './nginx.js'
export { TEST_IMAGE, TEST_IMAGE_NOSHELL } from '../../src/lab/index.js'
export {
  Testbed, type TestbedOptions, type TestbedHost, type HostRef,
  DockerCli, type RunContainerOptions,
  cleanupAll, cleanupStale, type CleanupOptions,
  testbedLeftovers, dirLeftovers,
  freePort, canConnect,
  waitFor, sleep, run, tryRun,
  teardownAll, tsLoaderArgs, cliArgs,
} from '../../src/lab/index.js'
export { startNatsSites, type NatsSites, type SiteLink } from './nats-sites.js'
