// The docker CLI pointed at one testbed host's daemon. Tests use it the way an
// operator would; the driftgate agent itself talks to the same socket through
// dockerode.
import { run } from './exec.js'

export interface RunContainerOptions {
  name?: string
  labels?: Record<string, string>
  env?: Record<string, string>
  /** Network to attach to (default mv0); false = `--network none`. */
  network?: string | false
  /** Fixed address on that network (--ip). */
  ip?: string
  mac?: string
  image?: string
  /** Overrides the image's command. */
  cmd?: string[]
  /** Anything else for `docker run`, placed before the image. */
  args?: string[]
}

export class DockerCli {
  /** defaultImage: what run() starts when not told (the testbed passes its test image). */
  constructor(readonly socketPath: string, readonly defaultImage?: string) {}

  /** `docker -H unix://<sock> ...args`, resolving with trimmed stdout. */
  async raw(...args: string[]): Promise<string> {
    const out = await run('docker', ['-H', `unix://${this.socketPath}`, ...args], { timeoutMs: 120_000 })
    return out.trim()
  }

  /** docker run -d; resolves with the full container id. */
  async run(o: RunContainerOptions = {}): Promise<string> {
    const args = ['run', '-d']
    if (o.name) args.push('--name', o.name)
    args.push('--network', o.network === false ? 'none' : (o.network ?? 'mv0'))
    if (o.ip) args.push('--ip', o.ip)
    if (o.mac) args.push('--mac-address', o.mac)
    for (const [k, v] of Object.entries(o.labels ?? {})) args.push('--label', `${k}=${v}`)
    for (const [k, v] of Object.entries(o.env ?? {})) args.push('--env', `${k}=${v}`)
    const image = o.image ?? this.defaultImage
    if (image === undefined) throw new Error('DockerCli.run: no image given and no default image')
    args.push(...(o.args ?? []), image, ...(o.cmd ?? []))
    return this.raw(...args)
  }

  async stop(id: string, timeoutSec?: number): Promise<void> {
    await this.raw('stop', ...(timeoutSec === undefined ? [] : ['-t', String(timeoutSec)]), id)
  }

  async kill(id: string, signal = 'KILL'): Promise<void> {
    await this.raw('kill', '-s', signal, id)
  }

  async rm(id: string, force = true): Promise<void> {
    await this.raw('rm', ...(force ? ['-f'] : []), id)
  }

  /** Parsed `docker inspect` of one container. */
  async inspect(id: string): Promise<Record<string, any>> {
    const arr = JSON.parse(await this.raw('inspect', id)) as Record<string, any>[]
    return arr[0]
  }

  /** IP of the container on `network` (default: its only/first network). */
  async ipOf(id: string, network?: string): Promise<string> {
    const nets = (await this.inspect(id)).NetworkSettings?.Networks ?? {}
    const net = network ? nets[network] : Object.values(nets)[0]
    if (!net?.IPAddress) throw new Error(`container ${id.slice(0, 12)} has no IP on ${network ?? 'any network'}`)
    return net.IPAddress as string
  }

  /** Ids of all containers, running or not. */
  async ps(all = true): Promise<string[]> {
    const out = await this.raw('ps', '-q', '--no-trunc', ...(all ? ['-a'] : []))
    return out.split('\n').filter(Boolean)
  }

  async exec(id: string, cmd: string[]): Promise<string> {
    return this.raw('exec', id, ...cmd)
  }
}
