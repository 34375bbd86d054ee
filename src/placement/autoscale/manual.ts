// What an operator's write does to an autoscaled service (pure). The
// autoscaler owns `replicas` while `autoscale` is set:
//  - PUT (apply) keeps the count the autoscaler reached, moved into the new
//    [min, max]; a new service, or one that was not autoscaled, starts from
//    the file's `replicas` moved into [min, max]. Re-applying the same file
//    therefore never undoes a scale-up.
//  - PATCH of `replicas` (driftgate scale web=5) is refused with a message
//    naming autoscale.min/max; a range (driftgate scale web=2..10) patches
//    autoscale.min/max instead, and the count follows into the new range.
import { ConflictError, type ServiceSpec } from '../../core/index.js'

const clamp = (n: number, min: number, max: number): number => Math.min(max, Math.max(min, n))

export function withAutoscaledReplicas (next: ServiceSpec, cur: ServiceSpec | null): ServiceSpec {
  const a = next.autoscale
  if (a === undefined) return next
  const from = cur?.autoscale !== undefined ? cur.replicas : next.replicas
  const replicas = clamp(from, a.min, a.max)
  return replicas === next.replicas ? next : { ...next, replicas }
}

/** Throws when a PATCH sets the replica count of a service that stays autoscaled. */
export function refuseManualReplicas (cur: ServiceSpec, patch: unknown, next: ServiceSpec): void {
  const p = patch as { replicas?: unknown } | null
  const a = next.autoscale
  if (a === undefined || cur.autoscale === undefined || p === null || typeof p !== 'object' || p.replicas === undefined || p.replicas === cur.replicas) return
  throw new ConflictError(`service "${cur.name}" is autoscaled (autoscale.min ${a.min}, autoscale.max ${a.max}): its replica count follows load. ` +
    `Change the range instead (driftgate scale ${cur.name}=${a.min}..${a.max}, or PATCH {"autoscale":{"min":${a.min},"max":${a.max}}}), ` +
    'or remove autoscaling (PATCH {"autoscale":null}) to set replicas by hand')
}
