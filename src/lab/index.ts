// The lab: Docker hosts on this machine (network namespaces on a bridge, one
// dockerd each), recorded so that nothing outlives its owner. `driftgate demo`
// runs on it; the test harness (test/harness) re-exports it and adds the
// test-only daemons (nats-server, nginx). Nothing here depends on the tests except
// the test image (see testbed.ts).
export { TEST_IMAGE, TEST_IMAGE_NOSHELL, importImage, imageTarball } from './image.js'
export { Testbed, type TestbedOptions, type TestbedHost, type HostRef } from './testbed.js'
export { DockerCli, type RunContainerOptions } from './docker-cli.js'
export { cleanupAll, cleanupStale, destroyDaemons, type CleanupOptions } from './cleanup.js'
export { testbedLeftovers, dirLeftovers } from './leftovers.js'
export { freePort, freePorts, canConnect } from './ports.js'
export { waitFor, sleep, run, tryRun, withTimeout, WaitAbort, type RunOptions, type RunResult, type WaitOptions } from './exec.js'
export { track, untrack, teardownAll, type LiveObject } from './hooks.js'
export { tsLoaderArgs } from './reaper.js'
export { cliArgs } from './cli.js'
export { removeHarnessDir } from './mounts.js'
export { isAlive, killAndWait, pidsMatching, childrenOf, signal, waitDead } from './procs.js'
export {
  STATE_DIR, randomHex, writeRecord, removeRecord,
  type HarnessRecord, type TestbedRecord, type HostRecord, type NginxRecord, type NatsRecord, type DaemonRecord,
} from './state.js'
