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
  commonRoleProperties, type CommonRoleConfig,
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
  failoverSchema, SITE_PATTERN, type FailoverSpec, type FailoverMode,
} from './spec-failover.js'
