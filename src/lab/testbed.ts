// Testbed (the lab): N Docker hosts on one machine, each a network namespace with its
// own dockerd, joined by a bridge (the "LAN") in the root namespace, with the
// busybox test image imported and a MacVLAN network `mv0` per host. See
// DESIGN.md section 7. Everything is recorded in /run/driftgate-testbed before
// it is created, so teardown (in-process, by the reaper or by cleanup.ts)
// always knows what to remove.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cleanupStale } from './cleanup.js'
import { DockerCli, type RunContainerOptions } from './docker-cli.js'
import { dataRoot, dockerdLog, execRoot, hostDaemons, startDockerd, stopDockerd } from './dockerd.js'
import { run } from './exec.js'
import { track, untrack } from './hooks.js'
import { importImage, imageTarball, TEST_IMAGE } from './image.js'
import { createBridge, createHostNs, disableBridgeNf, ensureSafetyNet, linkExists, pickSubnet } from './netns.js'
import { signal } from './procs.js'
import { hasRecord, randomHex, removeRecord, withLock, writeRecord, type HostRecord, type TestbedRecord } from './state.js'
import { destroyTestbed, layoutTestbed } from './testbed-record.js'

export interface TestbedOptions {
  hosts?: number
  /** Label for logs and the record. */
  name?: string
  /** false: skip creating the MacVLAN network on each host. */
  network?: boolean
  /** Name of the per-host MacVLAN network (default mv0). */
  networkName?: string
  /** Not tied to this process (global setup): only removed by down/cleanup --all. */
  persistent?: boolean
}

export interface TestbedHost extends HostRecord {
  index: number
  /** Alias of socketPath. */
  socket: string
  /** unix:///…/docker.sock, for DOCKER_HOST or dockerode. */
  dockerUrl: string
  dataDir: string
  execRoot: string
  logFile: string
}

export type HostRef = string | number | TestbedHost

export class Testbed {
  readonly hosts: TestbedHost[]
  private torn = false
  private constructor(readonly record: TestbedRecord, private readonly owned: boolean, readonly networkName = 'mv0') {
    this.hosts = record.hosts.map((h, i) => ({
      ...h, index: i + 1, socket: h.socketPath, dockerUrl: `unix://${h.socketPath}`,
      dataDir: dataRoot(h), execRoot: execRoot(h), logFile: dockerdLog(h),
    }))
  }

  get id(): string { return this.record.id }
  get name(): string { return this.record.name }
  /** e.g. 10.247.3.0/24 */
  get subnet(): string { return this.record.subnet }
  /** The bridge's address: the containers' gateway and the root namespace's address on the LAN. */
  get gateway(): string { return this.record.gateway }
  get bridge(): string { return this.record.bridge }
  get dir(): string { return this.record.dir }

  static async create(opts: TestbedOptions = {}): Promise<Testbed> {
    await cleanupStale().catch((err: unknown) => process.stderr.write(`harness: stale cleanup: ${String(err)}\n`))
    await ensureSafetyNet()
    disableBridgeNf()
    const n = opts.hosts ?? 3
    const rec = await withLock(async () => {
      const id = await freshId()
      const r = layoutTestbed(id, await pickSubnet(id), n, opts.name ?? `dg${id}`, opts.persistent ? null : process.pid)
      writeRecord(r) // before anything exists, so every later step is covered
      mkdirSync(r.dir)
      return r
    })
    const tb = new Testbed(rec, true, opts.networkName)
    if (!opts.persistent) {
      track(`testbed-${rec.id}`, { kill: () => tb.killSync(), teardown: () => tb.teardown() })
    }
    try {
      await tb.build(opts.network !== false)
    } catch (err) {
      await tb.teardown().catch(() => undefined)
      throw err
    }
    return tb
  }

  /** Attaches to a testbed someone else created (descriptor from writeDescriptor); teardown() is then a no-op. */
  static attach(file: string): Testbed {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as TestbedRecord & { networkName?: string }
    if (!hasRecord('testbed', rec.id)) throw new Error(`testbed ${rec.id} from ${file} no longer exists`)
    return new Testbed(rec, false, rec.networkName)
  }

  /**
   * The testbed of the global setup when DRIFTGATE_TESTBED_FILE names one,
   * else a private one (call teardown() when done: a no-op on a shared one).
   */
  static async shared(opts: TestbedOptions = {}): Promise<Testbed> {
    const file = process.env.DRIFTGATE_TESTBED_FILE
    if (file && existsSync(file)) return Testbed.attach(file)
    return Testbed.create(opts)
  }

  writeDescriptor(file: string): void {
    writeFileSync(file, JSON.stringify({ ...this.record, networkName: this.networkName }, null, 2))
  }

  private async build(network: boolean): Promise<void> {
    const r = this.record
    if (this.hosts.length === 0) { await createBridge(r.bridge, `${r.gateway}/24`); return }
    const tar = imageTarball()
    tar.catch(() => undefined) // awaited below; avoid an unhandled rejection meanwhile
    await createBridge(r.bridge, `${r.gateway}/24`)
    await Promise.all(this.hosts.map((h) => createHostNs(h.ns, h.veth, r.bridge, `${h.address}/24`, r.gateway)))
    await Promise.all(this.hosts.map(async (h) => {
      await startDockerd(h)
      await importImage(h.socketPath, await tar)
      if (network) {
        await this.docker(h)('network', 'create', '-d', 'macvlan', '--subnet', r.subnet, '--gateway', r.gateway,
          '--ip-range', h.ipRange, '-o', 'parent=eth0', this.networkName)
      }
    }))
  }

  host(ref: HostRef): TestbedHost {
    if (typeof ref === 'object') return ref
    const h = typeof ref === 'number' ? this.hosts[ref - 1] : this.hosts.find((x) => x.name === ref || x.ns === ref)
    if (!h) throw new Error(`testbed ${this.id} has no host ${ref}`)
    return h
  }

  cli(ref: HostRef): DockerCli {
    return new DockerCli(this.host(ref).socketPath, TEST_IMAGE)
  }

  /** `docker -H unix://<host sock> ...args` → stdout (trimmed). */
  docker(ref: HostRef): (...args: string[]) => Promise<string> {
    const cli = this.cli(ref)
    return (...args) => cli.raw(...args)
  }

  run(ref: HostRef, o: RunContainerOptions = {}): Promise<string> {
    return this.cli(ref).run({ network: this.networkName, ...o })
  }
  stop(ref: HostRef, id: string, timeoutSec?: number): Promise<void> { return this.cli(ref).stop(id, timeoutSec) }
  kill(ref: HostRef, id: string, sig?: string): Promise<void> { return this.cli(ref).kill(id, sig) }
  rm(ref: HostRef, id: string): Promise<void> { return this.cli(ref).rm(id) }
  inspect(ref: HostRef, id: string): Promise<Record<string, any>> { return this.cli(ref).inspect(id) }
  ipOf(ref: HostRef, id: string, network = this.networkName): Promise<string> { return this.cli(ref).ipOf(id, network) }

  /** Removes every container on every host (between tests on a shared testbed). */
  async removeAllContainers(): Promise<void> {
    await Promise.all(this.hosts.map(async (h) => {
      const ids = await this.cli(h).ps()
      if (ids.length) await this.docker(h)('rm', '-f', ...ids)
    }))
  }

  async stopDockerd(ref: HostRef): Promise<void> { await stopDockerd(this.host(ref)) }
  async startDockerd(ref: HostRef): Promise<void> { await startDockerd(this.host(ref)) }
  async restartDockerd(ref: HostRef): Promise<void> {
    await this.stopDockerd(ref)
    await this.startDockerd(ref)
  }

  /** Runs a command in the host's network namespace; a string goes through sh -c. */
  exec(ref: HostRef, cmd: string | string[]): Promise<string> {
    const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd
    return run('nsenter', [`--net=/run/netns/${this.host(ref).ns}`, ...argv])
  }

  /** Removes everything (idempotent). On an attached testbed, does nothing unless forced. */
  async teardown(force = false): Promise<void> {
    if (this.torn || (!this.owned && !force)) return
    await destroyTestbed(this.record)
    this.torn = true
    removeRecord('testbed', this.id)
    untrack(`testbed-${this.id}`)
  }

  private killSync(): void {
    for (const h of this.hosts) hostDaemons(h).dockerd.forEach((p) => signal(p, 'SIGTERM'))
  }
}

/** 4 hex digits not used by any record, dir or bridge (call under withLock). */
async function freshId(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const id = randomHex(2)
    if (!hasRecord('testbed', id) && !existsSync(`/tmp/driftgate-tb-${id}`) && !(await linkExists(`dgbr${id}`))) return id
  }
  throw new Error('could not find a free testbed id')
}

