// core: types, schemas, name rules, errors, config loading — no I/O. The
// explicit list is the module's public surface: other modules import only these.

export {
  ConfigError, ConflictError, DriftgateError, ErrorCodes, InvalidNameError, NginxRejectedError,
  NginxNotRunningError, NginxPushError, NginxReloadError, NginxTestError, NotFoundError, PreflightError,
  TemplateError, TimeoutError, TooManyRequestsError, UnauthorizedError,
  ValidationError, type ErrorCode, type FieldProblem,
} from './errors.js'
export {
  CONTAINER_ID_PATTERN, DNS_LABEL_PATTERN, MAC_PATTERN, RESERVED_NETWORK_NAMES, assertDnsLabel,
  endpointIpProblem, isContainerId, isDnsLabel, isEndpointIPv4, isIPv4, networkNameProblem,
} from './names.js'
export {
  DURATION_PATTERN, MAX_SPEC_DURATION, NGINX_SECONDS_PATTERN, SIZE_PATTERN, durationMs,
  parseDuration, parseSize, sizeBytes,
} from './duration.js'
export {
  WIRE_VERSION, type Allocated, type AppliedMessage, type Capacity, type EndpointInfo,
  type EndpointRecord, type EndpointState, type EventMessage, type Health, type HeartbeatMessage,
  type HostRecord, type HostStatus, type SnapshotMessage,
} from './types.js'
export {
  INSTANCE_PATTERN, compareVersion, newInstanceId,
} from './instance.js'
export {
  appliedSchema, endpointInfoSchema, endpointRecordSchema, eventSchema, heartbeatSchema,
  hostRecordSchema, snapshotSchema,
} from './schemas.js'
export {
  HIDDEN, redactSpec, serviceRecordSchema, serviceSpecSchema, specDemand, specGraceMs, specHash, stableStringify,
  type ServiceRecord, type ServiceSpec,
} from './spec.js'
export {
  ajv, checkApplied, checkEndpointRecord, checkEvent, checkHeartbeat, checkHostRecord,
  checkServiceRecord, checkServiceSpec, checkSnapshot, checker, toProblems, type Checker,
} from './validate.js'
export {
  envName, kebab, loadConfig, type Json, type LoadOptions, type RoleSchema, type SchemaProp,
} from './config.js'
export {
  componentLogger, createLogger, silentLogger, type Logger, type LoggerOpts,
} from './logger.js'
export {
  LogOnce,
} from './once.js'
export {
  createMetricsRegistry,
} from './metrics.js'
export {
  IpamOps, addressKey, allocateRequestSchema, allocationRecordSchema, bindRequestSchema,
  checkAllocateRequest, checkAllocationRecord, checkBindRequest, checkPoolQuery, checkPoolRecord,
  checkReleaseRequest, poolKey, poolQuerySchema, poolRecordSchema, releaseRequestSchema,
  type AllocateRequest, type AllocationRecord, type AllocationState, type BindRequest,
  type IpamOwner, type IpamReply, type PoolQuery, type PoolRecord, type ReleaseRequest,
} from './ipam.js'
export {
  MAX_REPLICA, assignmentKey, assignmentRecordSchema, checkAssignmentRecord, checkLeaseRecord,
  leaseRecordSchema, parseAssignmentKey, type AssignmentRecord, type LeaseRecord,
} from './placement.js'
export {
  commonRoleProperties, heapGrowingProperty, type CommonRoleConfig,
} from './role-config.js'
export {
  Sleeper, backoffDelay, type BackoffOptions,
} from './backoff.js'
export {
  closeInOrder, settleWithin, withTimeout, type CloseStep,
} from './settle.js'
export {
  entryPrefix, formatEntry, sortByTime, timeKey, type LogEntry,
} from './log-entries.js'
export {
  readYaml, readYamlDocuments, type YamlDocument,
} from './yaml.js'
export {
  MAX_AUTOSCALE_REPLICAS, autoscaleProblem, autoscaleSchema, autoscaleWindows, type AutoscaleSpec,
} from './spec-autoscale.js'
export {
  MAX_STATS_CONTAINERS, checkHostStats, hostStatsSchema, type ContainerCpu, type HostStatsMessage,
} from './host-stats.js'
export {
  autoscaleStatusKey, autoscaleStatusSchema, checkAutoscaleStatus,
  type AutoscaleChange, type AutoscaleMetricStatus, type AutoscaleStatusRecord,
} from './autoscale-status.js'
export {
  MAX_STATS_SERVICES, checkRendererStats, rendererStatsSchema, type RendererStatsMessage, type ServiceCounters, type ServiceRate,
} from './stats.js'
export {
  MAX_LABEL_HOSTS, MAX_ROUTES, MAX_ROUTE_PATH, ROOT_PATH, ROUTE_HOST_PATTERN, ROUTE_PATH_PATTERN, claimKey,
  isRouteHost, isRoutePath, normaliseHost, normaliseRoutesInput, routeHostProblem, routeHostSchema,
  routePathProblem, routePathSchema, routesSchema, specRouteProblems, type RouteSpec,
} from './spec-routes.js'
export {
  RouteConflictError,
} from './errors.js'
export {
  HEALTH_DEFAULTS, HEALTH_PATH_PATTERN, MIN_INTERVAL_MS, healthSettings, healthSpecSchema,
  type HealthSettings, type HealthSpec,
} from './spec-health.js'
export { MAX_REPLACED_AT } from './placement.js'
export {
  type RoutesQuery, type RoutesAnswer,
} from './types.js'
export {
  failoverSchema, SITE_PATTERN, type FailoverSpec, type FailoverMode,
} from './spec-failover.js'
export {
  cidrText, contains, fnv1a, intToIp, ipToInt, parseCidr, parseRange, type Cidr,
} from './addr.js'
export {
  standbySchema, type StandbySpec,
} from './spec-standby.js'
export {
  MAX_STANDBY_EXPORTS, checkSiteSummary, siteSummarySchema, type SiteSummary, type StandbyExport,
} from './site-summary.js'
export {
  blockKey, blockEnvelopeSchema, blockRecordSchema, checkBlockEnvelope, checkBlockRecord, parseBlockKey, type BlockLease, type BlockRecord,
} from './ipam-block.js'
