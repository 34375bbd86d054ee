// The demo's record of everything it made, written before each thing is made,
// so `driftgate demo down` can remove every trace even after a failed or
// interrupted `driftgate demo`.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const DEFAULT_DEMO_DIR = '/tmp/driftgate-demo'
export const HOSTS = ['h1', 'h2', 'h3'] as const

export interface DemoPorts { nginx: number, http: number, dns: number, nats: number, status: number }

export interface DemoState {
  v: 1
  dir: string
  createdAt: string
  ports: DemoPorts
  token: string
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

export function readState (dir: string): DemoState | undefined {
  if (!existsSync(statePath(dir))) return undefined
  return JSON.parse(readFileSync(statePath(dir), 'utf8')) as DemoState
}

export function writeState (s: DemoState): void {
  mkdirSync(s.dir, { recursive: true })
  const tmp = `${statePath(s.dir)}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n')
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
