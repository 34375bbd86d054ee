// Request load per service, as the stats work (renderer counters, registry
// aggregation) provides it. The autoscaler reads only these fields of the
// registry's ServiceRate; the registry passes the real ServiceLoad in (see
// docs/architecture.md "Autoscaling": the wiring point is PlacementDeps.load).
import type { ServiceRate as FullRate } from '../../core/index.js'

export type ServiceRate = Pick<FullRate, 'requestsPerSec' | 'errorsPerSec' | 'renderers' | 'at'>

export interface ServiceLoad {
  rate: (service: string) => ServiceRate | undefined
}
