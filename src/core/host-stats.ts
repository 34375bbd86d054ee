// `<prefix>.stats.host.<host>` (agent → registry, core NATS): CPU use of each
// managed container on the host, as a percentage of the replica's CPU limit,
// measured by the agent from Docker's stats between two of its samples. The
// host is the subject's: a payload naming another host is refused.
import { checker } from './validate.js'
import { containerId, label, time } from './schema-parts.js'

export interface ContainerCpu {
  id: string
  service: string
  replica?: number
  /** CPU used over the last interval, percent of `limitCpus` (can pass 100 briefly: the limit is enforced per period). */
  cpuPercent: number
  /** The container's CPU limit in CPUs (HostConfig.NanoCpus), 0 when it has none. */
  limitCpus: number
}

export interface HostStatsMessage {
  v: 1
  host: string
  sentAt: number
  /** How often the agent reports: a report older than 3 intervals is stale. */
  intervalMs: number
  containers: ContainerCpu[]
}

/** Containers per report: a host runs far fewer managed replicas than this. */
export const MAX_STATS_CONTAINERS = 2000

export const hostStatsSchema = {
  type: 'object',
  required: ['v', 'host', 'sentAt', 'intervalMs', 'containers'],
  properties: {
    v: { const: 1 },
    host: label,
    sentAt: time,
    intervalMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
    containers: {
      type: 'array',
      maxItems: MAX_STATS_CONTAINERS,
      items: {
        type: 'object',
        required: ['id', 'service', 'cpuPercent', 'limitCpus'],
        properties: {
          id: containerId,
          service: label,
          replica: { type: 'integer', minimum: 0 },
          cpuPercent: { type: 'number', minimum: 0, maximum: 1e6 },
          limitCpus: { type: 'number', minimum: 0, maximum: 1024 },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const

export const checkHostStats = checker<HostStatsMessage>('host stats', hostStatsSchema)
