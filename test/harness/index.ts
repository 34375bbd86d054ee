// Public surface of the driftgate test harness: real nats-server, nginx and
// multi-host Docker testbeds for integration tests and benchmarks.
export { startNats, type NatsOptions, type NatsServer } from './nats.js'
export { startNatsCluster, type NatsCluster, type NatsClusterNode } from './nats-cluster.js'
export { startNginx, type NginxOptions, type NginxServer } from './nginx.js'
export { Testbed, type TestbedOptions, type TestbedHost, type HostRef } from './testbed.js'
export { DockerCli, type RunContainerOptions } from './docker-cli.js'
export { TEST_IMAGE, TEST_IMAGE_NOSHELL } from './image.js'
export { cleanupAll, cleanupStale, type CleanupOptions } from './cleanup.js'
export { testbedLeftovers, dirLeftovers } from './leftovers.js'
export { freePort, canConnect } from './ports.js'
export { waitFor, sleep, run, tryRun } from './exec.js'
export { teardownAll } from './hooks.js'
