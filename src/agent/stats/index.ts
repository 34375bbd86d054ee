// Container CPU reports for the autoscaler (issue 19).
export { StatsReporter, type StatsReporterOptions } from './reporter.js'
export { cpuPercent, sampleOf, type CpuSample, type DockerCpuStats } from './cpu.js'
