// The lab's Docker hosts, from the project's test harness: network
// namespaces on a bridge, one dockerd each, the busybox test image. Made
// persistent (no reaper: it must outlive this process) and recorded in the
// demo dir; imported lazily so other commands never load the harness.
import { PreflightError } from '../core/index.js'

type Harness = typeof import('../../test/harness/index.js')
export type Testbed = import('../../test/harness/index.js').Testbed

export async function harness (): Promise<Harness> {
  try {
    return await import('../../test/harness/index.js')
  } catch (err) {
    throw new PreflightError(`driftgate demo needs the test harness of a source checkout (test/harness), built with npm run build: ${(err as Error).message}`)
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
