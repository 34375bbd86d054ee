// One dockerd per testbed host, started inside the host's network namespace
// with nsenter (`ip netns exec` remounts /sys and hides the cgroup mounts,
// which dockerd refuses). Everything a dockerd owns lives under its host dir:
// data root, exec root (which also holds the containerd it spawns: socket,
// state and config), socket, pid file and log; containers go into a cgroup
// named after the host. Teardown finds every process by those paths.
import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { sleep, WaitAbort, waitFor } from './exec.js'
import { unmountUnder } from './mounts.js'
import { isAlive, killAndWait, listProcs, signal, unixSocketPaths } from './procs.js'
import type { HostRecord } from './state.js'

export const dataRoot = (h: HostRecord): string => join(h.dir, 'data')
export const execRoot = (h: HostRecord): string => join(h.dir, 'exec')
export const dockerdLog = (h: HostRecord): string => join(h.dir, 'dockerd.log')
const containerdSock = (h: HostRecord): string => join(execRoot(h), 'containerd', 'containerd.sock')

function dockerdArgs(h: HostRecord): string[] {
  return [
    `--net=/run/netns/${h.ns}`, 'dockerd',
    '--data-root', dataRoot(h), '--exec-root', execRoot(h),
    '-H', `unix://${h.socketPath}`, '--pidfile', h.pidFile,
    '--config-file', join(h.dir, 'daemon.json'), // never read the machine's /etc/docker
    '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    // Relative: the containers' cgroups stay below the daemon's own (the test's).
    `--cgroup-parent=${h.cgroupParent}`,
    '--shutdown-timeout=3', '--log-level=warn',
  ]
}

/** GET /_ping on the daemon socket. */
export function pingDocker(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => { req.destroy(); resolve(false) })
  })
}

function logTail(h: HostRecord): string {
  try {
    return readFileSync(dockerdLog(h), 'utf8').split('\n').slice(-15).join('\n')
  } catch {
    return ''
  }
}

/** Starts the host's dockerd and resolves with its pid once /_ping answers. */
export async function startDockerd(h: HostRecord, timeoutMs = 60_000): Promise<number> {
  mkdirSync(h.dir, { recursive: true })
  writeFileSync(join(h.dir, 'daemon.json'), '{}\n')
  const log = openSync(dockerdLog(h), 'a')
  // nsenter execs dockerd in place, so the child's pid is dockerd's pid.
  const child = spawn('nsenter', dockerdArgs(h), { detached: true, stdio: ['ignore', log, log] })
  closeSync(log)
  child.unref()
  let exited: string | undefined
  child.once('exit', (code, sig) => { exited = `dockerd for ${h.name} exited (${code ?? sig})` })
  await waitFor(async () => {
    if (exited) throw new WaitAbort(exited)
    return pingDocker(h.socketPath)
  }, { timeoutMs, intervalMs: 50, what: `dockerd of ${h.name}` }).catch((err: Error) => {
    throw new Error(`${err.message}\n${logTail(h)}`)
  })
  return child.pid!
}

const cmdStarts = (cmd: string, prog: string): boolean => cmd === prog || cmd.startsWith(prog + ' ') || cmd.startsWith(`/usr/bin/${prog} `) || cmd.startsWith(`/usr/sbin/${prog} `)

/** dockerd, containerd and shim pids of one host, found by its paths. */
export function hostDaemons(h: HostRecord): { dockerd: number[]; containerd: number[]; shims: number[] } {
  const out = { dockerd: [] as number[], containerd: [] as number[], shims: [] as number[] }
  for (const p of listProcs()) {
    if (!p.cmdline.includes(h.dir + '/')) continue
    if (cmdStarts(p.cmdline, 'dockerd') || cmdStarts(p.cmdline, 'nsenter')) out.dockerd.push(p.pid)
    else if (cmdStarts(p.cmdline, 'containerd')) out.containerd.push(p.pid)
    else if (p.cmdline.includes(`-address ${containerdSock(h)}`)) out.shims.push(p.pid)
  }
  return out
}

/** Graceful stop: dockerd stops its containers and its containerd itself. */
export async function stopDockerd(h: HostRecord, graceMs = 20_000): Promise<void> {
  const { dockerd } = hostDaemons(h)
  await killAndWait(dockerd, 'SIGTERM', graceMs)
  // A dockerd that had to be SIGKILLed leaves its containerd behind.
  const { containerd } = hostDaemons(h)
  await killAndWait(containerd, 'SIGTERM', 5_000)
}

/** Cgroup dirs named after the host, anywhere near the top of every hierarchy. */
function cgroupDirs(name: string): string[] {
  const found: string[] = []
  const walk = (dir: string, depth: number) => {
    let entries: string[] = []
    try { entries = readdirSync(dir) } catch { return }
    for (const e of entries) {
      const p = join(dir, e)
      try { if (!statSync(p).isDirectory()) continue } catch { continue }
      if (e === name) found.push(p)
      else if (depth < 4) walk(p, depth + 1)
    }
  }
  walk('/sys/fs/cgroup', 0)
  return found
}

function cgroupPids(dir: string): number[] {
  const pids: number[] = []
  const walk = (d: string) => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.push(Number(l))
      for (const e of readdirSync(d)) if (statSync(join(d, e)).isDirectory()) walk(join(d, e))
    } catch { /* removed meanwhile */ }
  }
  walk(dir)
  return pids
}

function removeCgroup(dir: string): void {
  try {
    for (const e of readdirSync(dir)) if (statSync(join(dir, e)).isDirectory()) removeCgroup(join(dir, e))
    rmdirSync(dir)
  } catch { /* busy or gone: reported by leftovers() */ }
}

export const hostCgroupDirs = (h: HostRecord): string[] => cgroupDirs(h.cgroupParent)

/**
 * Removes every trace of a host's docker: container processes (SIGKILL: they
 * are throwaway), dockerd (SIGTERM, then SIGKILL), its containerd and shims,
 * sockets the shims left in /run/containerd/s, mounts and cgroups.
 */
export async function destroyHostDaemons(h: HostRecord): Promise<void> {
  const cgroups = hostCgroupDirs(h)
  const containerPids = [...new Set(cgroups.flatMap(cgroupPids))]
  containerPids.forEach((p) => signal(p, 'SIGKILL'))
  const shimSockets = hostDaemons(h).shims.flatMap(unixSocketPaths).filter((p) => p.startsWith('/run/containerd/s/'))
  await stopDockerd(h, 10_000)
  const { shims, dockerd, containerd } = hostDaemons(h)
  await killAndWait([...shims, ...dockerd, ...containerd], 'SIGKILL', 5_000)
  for (const s of shimSockets) try { unlinkSync(s) } catch { /* shim removed it */ }
  await unmountUnder(h.dir)
  for (let i = 0; i < 20 && containerPids.some(isAlive); i++) await sleep(50)
  hostCgroupDirs(h).forEach(removeCgroup)
}
