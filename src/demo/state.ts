// The demo's record of everything it made, written before each thing is made,
// so `driftgate demo down` can remove every trace even after a failed or
// interrupted `driftgate demo`. The demo dir holds secrets (API token, NATS
// passwords): it is made fresh with mode 0700, and one that is a symlink,
// someone else's or writable by others is never trusted.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PreflightError } from '../core/index.js'

export const DEFAULT_DEMO_DIR = '/tmp/driftgate-demo'
export const HOSTS = ['h1', 'h2', 'h3'] as const

export interface DemoPorts { nginx: number, http: number, dns: number, nats: number, status: number }

export interface DemoState {
  v: 1
  dir: string
  createdAt: string
  ports: DemoPorts
  /** nginx's prefix, outside the 0700 dir: its workers (user nobody) need its temp folders. */
  nginxPrefix?: string
  /** Testbed id and descriptor file (Testbed.attach), once created. */
  testbed?: { id: string, file: string, subnet: string, gateway: string }
  /** Role name (nats, registry, agent-h1, renderer, nginx) → pid. */
  pids: Record<string, number>
  /** IPAM driver name of each lab host. */
  drivers: Record<string, string>
  /** Hosts stopped with `demo stop-host`. */
  stopped: string[]
}

export const statePath = (dir: string): string => join(dir, 'demo.json')
export const tokenPath = (dir: string): string => join(dir, 'api-token')
export const secretsDir = (dir: string): string => join(dir, 'secrets')

const downHint = (dir: string): string => `driftgate demo down${dir === DEFAULT_DEMO_DIR ? '' : ` --dir ${dir}`}`

/** Makes the demo dir, which must not exist yet, with mode 0700 (its parents as needed). */
export function createDemoDir (dir: string): void {
  const refuse = (what: string): PreflightError => new PreflightError(`${dir} ${what}: the demo makes its dir fresh (it holds the API token and NATS passwords). ` +
    `If an earlier demo left it, remove that with \`${downHint(dir)}\`; otherwise delete it or pass another --dir`)
  const st = lstatSync(dir, { throwIfNoEntry: false })
  if (st?.isSymbolicLink() === true) throw refuse('is a symbolic link')
  if (st !== undefined) throw refuse('already exists')
  mkdirSync(dirname(dir), { recursive: true })
  try {
    mkdirSync(dir, { mode: 0o700 }) // not recursive: fails if someone made it meanwhile
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw refuse('already exists')
    throw err
  }
  chmodSync(dir, 0o700) // mkdir's mode is cut by the umask
}

/** Refuses a demo dir this process should not trust: a symlink, not ours, or writable by others. */
export function checkDemoDir (dir: string): void {
  const st = lstatSync(dir, { throwIfNoEntry: false })
  if (st === undefined) return
  const bad = st.isSymbolicLink() ? 'is a symbolic link'
    : !st.isDirectory() ? 'is not a directory'
      : process.getuid !== undefined && st.uid !== process.getuid() ? `belongs to uid ${st.uid}`
        : (st.mode & 0o022) !== 0 ? 'is writable by group or others' : undefined
  if (bad !== undefined) throw new PreflightError(`${dir} ${bad}: not a demo dir this driftgate made, so driftgate does not touch it: inspect and remove it yourself, or pass another --dir`)
}

export function readState (dir: string): DemoState | undefined {
  checkDemoDir(dir)
  if (!existsSync(statePath(dir))) return undefined
  return JSON.parse(readFileSync(statePath(dir), 'utf8')) as DemoState
}

export function writeState (s: DemoState): void {
  const tmp = `${statePath(s.dir)}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, statePath(s.dir))
}

/**
 * The demo web service: the test image answers {"host","ips"} on :80. Half a
 * CPU each: a tenth made CFS throttle the replicas into 300 ms stalls, and
 * 0.5 still lets `scale web=6` (2 per host) fit the hosts' reported CPUs.
 */
export function webSpec (replicas = 3): string {
  return `# The demo service. Edit and re-apply with: driftgate apply -f <this file>
name: web
image: driftgate-test:latest
replicas: ${replicas}
port: 80
network: mv0
resources: { cpu: 0.5, memory: 32Mi }
health: { http: /healthz, interval: 2s }
stopGracePeriod: 2s
`
}
