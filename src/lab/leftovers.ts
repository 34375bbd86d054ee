// What a harness instance may have left on the machine, as human-readable
// lines; an empty list means the machine is as before. Tests assert on it.
import { existsSync, readdirSync } from 'node:fs'
import { mountsUnder } from './mounts.js'
import { listLinks, listNetns } from './netns.js'
import { listProcs } from './procs.js'
import { hasRecord } from './state.js'

function cgroupsNamed(re: RegExp): string[] {
  const found: string[] = []
  const walk = (dir: string, depth: number) => {
    let entries: import('node:fs').Dirent[] = []
    try { entries = readdirSync(dir, { withFileTypes: true }) } catch { return }
    for (const e of entries) {
      if (!e.isDirectory()) continue
      const p = `${dir}/${e.name}`
      if (re.test(e.name)) found.push(p)
      else if (depth < 4) walk(p, depth + 1)
    }
  }
  walk('/sys/fs/cgroup', 0)
  return found
}

/** Leftovers of testbed `id` (dir defaults to its temp dir). */
export async function testbedLeftovers(t: { id: string; dir?: string }): Promise<string[]> {
  const dir = t.dir ?? `/tmp/driftgate-tb-${t.id}`
  const out: string[] = []
  for (const n of await listNetns()) if (n.startsWith(`dg-${t.id}-`)) out.push(`netns ${n}`)
  for (const l of await listLinks()) if (new RegExp(`^dg(br|v)${t.id}`).test(l)) out.push(`link ${l}`)
  out.push(...dirLeftovers(dir))
  for (const c of cgroupsNamed(new RegExp(`^dg-${t.id}-h\\d+$`))) out.push(`cgroup ${c}`)
  if (hasRecord('testbed', t.id)) out.push(`state record testbed-${t.id}.json`)
  return out
}

/** Processes, mounts and files under a harness temp dir (nginx, nats, testbed host). */
export function dirLeftovers(dir: string): string[] {
  const out: string[] = []
  for (const p of listProcs()) {
    if (p.pid !== process.pid && (p.cmdline.includes(dir + '/') || (p.cmdline + ' ').includes(dir + ' '))) out.push(`process ${p.pid}: ${p.cmdline.slice(0, 120)}`)
  }
  for (const m of mountsUnder(dir)) out.push(`mount ${m}`)
  if (existsSync(dir)) out.push(`dir ${dir}`)
  return out
}
