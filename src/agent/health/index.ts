// The agent's own health checks (issue 19): labels, the state machine, the prober and the monitor.
export { HEALTH_LABEL, healthLabelsOf, parseHealthLabels, type HealthLabelResult, type HttpCheck } from './labels.js'
export { initialState, step, type CheckPolicy, type CheckState } from './state.js'
export { probeHttp, type ProbeResult, type ProbeTarget } from './prober.js'
export { HealthMonitor, type HealthMonitorOptions } from './monitor.js'
