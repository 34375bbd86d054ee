// CPU use from Docker's stats, pure: the agent keeps each container's last
// sample and takes the difference itself (one-shot stats carry no precpu),
// so a reading costs one quick API call instead of a one-second sampling wait.

/** The part of GET /containers/{id}/stats the calculation reads. */
export interface DockerCpuStats {
  cpu_stats?: {
    cpu_usage?: { total_usage?: number }
    system_cpu_usage?: number
    online_cpus?: number
  }
}

export interface CpuSample { total: number, system: number, cpus: number }

export function sampleOf (s: DockerCpuStats): CpuSample | null {
  const c = s.cpu_stats
  const total = c?.cpu_usage?.total_usage
  const system = c?.system_cpu_usage
  if (typeof total !== 'number' || typeof system !== 'number' || system <= 0) return null
  return { total, system, cpus: c?.online_cpus ?? 1 }
}

/**
 * CPU used between two samples as a percentage of `limitCpus` (Docker's
 * formula: cpu_delta / system_delta × online_cpus gives CPUs used). A
 * container without a limit is measured against one CPU. Null when the
 * samples cannot be compared (a restart resets the counters).
 */
export function cpuPercent (prev: CpuSample, cur: CpuSample, limitCpus: number): number | null {
  const dTotal = cur.total - prev.total
  const dSystem = cur.system - prev.system
  if (dTotal < 0 || dSystem <= 0) return null
  const used = (dTotal / dSystem) * cur.cpus
  return Math.round((used / (limitCpus > 0 ? limitCpus : 1)) * 1000) / 10
}
