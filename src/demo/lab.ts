// The demo's Docker hosts, from src/lab: network namespaces on a bridge, one
// dockerd each, the busybox test image. Made persistent (no reaper: it must
// outlive this process) and recorded in the demo dir; imported lazily so
// other commands never load the lab.
import { PreflightError } from '../core/index.js'

type Lab = typeof import('../lab/index.js')
export type Testbed = import('../lab/index.js').Testbed

export async function harness (): Promise<Lab> {
  try {
    return await import('../lab/index.js')
  } catch (err) {
    throw new PreflightError(`driftgate demo cannot load its lab (src/lab), built with npm run build: ${(err as Error).message}`)
  }
}

export async function createLab (descriptor: string, hosts: number): Promise<Testbed> {
  const { Testbed } = await harness()
  const tb = await Testbed.create({ hosts, network: false, persistent: true, name: 'demo' })
  tb.writeDescriptor(descriptor)
  return tb
}

export async function attachLab (descriptor: string): Promise<Testbed> {
  const { Testbed } = await harness()
  return Testbed.attach(descriptor)
}

/** Removes the lab whether or not its descriptor is intact (by id, through the harness record). */
export async function destroyLab (descriptor: string, id: string): Promise<void> {
  const h = await harness()
  try {
    await (await attachLab(descriptor)).teardown(true)
  } catch {
    // Descriptor gone or record gone: the harness cleanup removes any record/orphan of this id.
    await h.cleanupAll({ all: false })
  }
  const left = await h.testbedLeftovers({ id })
  if (left.length > 0) throw new PreflightError(`lab ${id} not fully removed: ${left.join(', ')}`)
}

/** The pool range: .64-.250 of the lab /24 (hosts sit at .11-.13, the bridge at .1). */
export function poolRange (subnet: string): string {
  const p = subnet.split('.').slice(0, 3).join('.')
  return `${p}.64-${p}.250`
}
