// Process inspection through /proc. Daemons are always found by something
// unique to this harness (a recorded pid, or a per-instance temp path in the
// command line), never by program name: other engineers run their own
// nginx/nats-server/dockerd on the same machine.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { sleep } from './exec.js'

export interface ProcInfo {
  pid: number
  ppid: number
  state: string
  cmdline: string
}

function readStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name is in parentheses and may itself contain spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: rest[0], ppid: Number(rest[1]) }
  } catch {
    return undefined
  }
}

export function procInfo(pid: number): ProcInfo | undefined {
  const st = readStat(pid)
  if (!st) return undefined
  let cmdline = ''
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
  } catch {
    return undefined
  }
  return { pid, ...st, cmdline }
}

export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const info = procInfo(Number(name))
    if (info) out.push(info)
  }
  return out
}

/** A zombie counts as dead: it holds no resources and cannot be signalled away. */
export function isAlive(pid: number | undefined | null): boolean {
  if (!pid || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const st = readStat(pid)
  return !!st && st.state !== 'Z'
}

/** Pids whose command line contains `needle` (never this process itself). */
export function pidsMatching(needle: string): number[] {
  if (needle.length < 8) throw new Error(`refusing to match processes on a short string: ${needle}`)
  return listProcs()
    .filter((p) => p.pid !== process.pid && p.cmdline.includes(needle))
    .map((p) => p.pid)
}

export function childrenOf(pid: number): number[] {
  return listProcs().filter((p) => p.ppid === pid).map((p) => p.pid)
}

export function descendantsOf(pid: number): number[] {
  const all = listProcs()
  const out: number[] = []
  const queue = [pid]
  while (queue.length) {
    const cur = queue.shift()!
    for (const p of all) if (p.ppid === cur) { out.push(p.pid); queue.push(p.pid) }
  }
  return out
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  // pid 0 or negative would signal a whole process group (the test runner's).
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, sig)
    return true
  } catch {
    return false
  }
}

export async function waitDead(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false
    await sleep(50)
  }
  return true
}

/** Sends `sig`, waits up to graceMs, then SIGKILLs whatever is left. */
export async function killAndWait(pids: number[], sig: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  const live = pids.filter(isAlive)
  if (!live.length) return
  live.forEach((p) => signal(p, sig))
  if (await waitDead(live, graceMs)) return
  live.filter(isAlive).forEach((p) => signal(p, 'SIGKILL'))
  await waitDead(live, 5_000)
}

/**
 * Paths of the unix sockets a process holds. containerd shims put theirs in
 * the shared /run/containerd/s/, and a SIGKILLed shim leaves the file behind.
 * /proc/<pid>/net/unix is read so the process's own network namespace is used.
 */
export function unixSocketPaths(pid: number): string[] {
  const inodes = new Set<string>()
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m) inodes.add(m[1])
      } catch { /* fd closed meanwhile */ }
    }
    const paths = new Set<string>()
    for (const line of readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length >= 8 && inodes.has(cols[6]) && cols[7].startsWith('/')) paths.add(cols[7])
    }
    return [...paths]
  } catch {
    return []
  }
}
