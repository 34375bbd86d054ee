// Request load per service, as the stats work (renderer counters, registry
// aggregation) provides it. Declared here with exactly that signature so the
// autoscaler codes against it; the registry passes the real one in (see
// docs/architecture.md "Autoscaling": the wiring point is PlacementDeps.load).
export interface ServiceRate {
  requestsPerSec: number
  errorsPerSec: number
  /** Renderers whose counts are in the figure. */
  renderers: number
  /** When the figure was computed, ms since epoch. */
  at: number
}

export interface ServiceLoad {
  rate: (service: string) => ServiceRate | undefined
}
