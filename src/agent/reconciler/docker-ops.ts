// The Docker calls the reconciler makes, with the "already done" answers
// (304 not modified, 404 gone, 409 name taken) turned into success or a retry.
import type Dockerode from 'dockerode'
import type { Logger, ServiceSpec } from '../../core/index.js'
import { createOptions, managedOf, type ContainerDns, type ManagedContainer } from './container-spec.js'
import { LABEL } from '../docker/labels.js'

const status = (err: unknown): number | undefined => (err as { statusCode?: number }).statusCode

export async function listManaged (docker: Dockerode): Promise<ManagedContainer[]> {
  const items = await docker.listContainers({ all: true, filters: { label: [`${LABEL.managed}=true`] } })
  return items.map((i) => managedOf(i)).filter((c): c is ManagedContainer => c !== null)
}

async function pull (docker: Dockerode, image: string): Promise<void> {
  const stream = await docker.pull(image) as NodeJS.ReadableStream
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null) => { if (err != null) reject(err); else resolve() })
  })
}

/** Creates and starts one replica; resolves with its id. Pulls a missing image once; replaces a leftover of the same name. */
export async function createAndStart (docker: Dockerode, spec: ServiceSpec, replica: number, specHash: string, log: Logger, incarnation = 0, dns?: ContainerDns): Promise<string> {
  const opts = createOptions(spec, replica, specHash, incarnation, dns)
  let container: Dockerode.Container | undefined
  for (let attempt = 1; container === undefined; attempt++) {
    try {
      container = await docker.createContainer(opts)
    } catch (err) {
      const code = status(err)
      if (attempt > 2) throw err
      if (code === 404 && /image/i.test((err as Error).message)) {
        log.info({ image: spec.image }, 'pulling image')
        await pull(docker, spec.image)
      } else if (code === 409) {
        // A leftover with our deterministic name (e.g. created, never started, labels lost): replace it.
        await docker.getContainer(opts.name!).remove({ force: true }).catch(() => {})
      } else throw err
    }
  }
  try {
    await container.start()
  } catch (err) {
    if (status(err) !== 304) throw err
  }
  return container.id
}

export async function startContainer (docker: Dockerode, id: string): Promise<void> {
  try { await docker.getContainer(id).start() } catch (err) { if (status(err) !== 304) throw err }
}

/** docker stop with the spec's grace period, then remove. Gone already is fine. */
export async function stopAndRemove (docker: Dockerode, id: string, graceSec: number): Promise<void> {
  const c = docker.getContainer(id)
  try { await c.stop({ t: graceSec }) } catch (err) { const s = status(err); if (s !== 304 && s !== 404) throw err }
  try { await c.remove({ force: true }) } catch (err) { if (status(err) !== 404) throw err }
}

/** Running, and healthy when it has a health check. */
export async function isReady (docker: Dockerode, id: string): Promise<boolean> {
  const i = await docker.getContainer(id).inspect()
  if (i.State?.Running !== true) return false
  const hasCheck = i.Config?.Healthcheck?.Test != null && i.Config.Healthcheck.Test[0] !== 'NONE'
  return !hasCheck || i.State.Health?.Status === 'healthy'
}

/** Why a replica may not be started on `network` here, or null: only MacVLAN networks carry routable endpoints. */
export async function networkRefusal (docker: Dockerode, network: string): Promise<'network_not_macvlan' | 'network_missing' | null> {
  try {
    const n = await docker.getNetwork(network).inspect() as { Driver?: string }
    return n.Driver === 'macvlan' ? null : 'network_not_macvlan'
  } catch (err) {
    if (status(err) === 404) return 'network_missing'
    throw err
  }
}
