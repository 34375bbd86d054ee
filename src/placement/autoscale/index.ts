// Autoscaling (issue 19): the HPA decision (pure), the leader's loop, the
// CPU reports it reads, the request-load interface, operator-write rules, status.
export { decideReplicas, compact, TOLERANCE, type AutoscaleDecision, type AutoscaleInput, type AutoscalePolicy, type MetricView, type Recommendation } from './decide.js'
export { Autoscaler, type AutoscalerOptions } from './autoscaler.js'
export { HostStatsCollector, type CpuSource } from './cpu-source.js'
export { refuseManualReplicas, withAutoscaledReplicas } from './manual.js'
export { autoscaleView, autoscaleViews, readAutoscaleStatus, type AutoscaleView } from './status.js'
export { createAutoscaleMetrics, type AutoscaleMetrics } from './metrics.js'
export type { ServiceLoad, ServiceRate } from './service-load.js'
