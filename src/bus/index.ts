// bus: the only code that knows NATS (connection, subjects, stream and
// buckets, codec, KV mirror, role permissions). Explicit list: other modules
// import only these.

export {
  DEFAULT_NATS, connectNats, connectionOptions, natsOptionsFrom, serverList, type NatsOptions,
} from './connect.js'
export {
  DEFAULT_PREFIX, ipamSubjectParts, lastToken, subjects, type Subjects,
} from './subjects.js'
export {
  MAX_MESSAGE_BYTES, decodeJson, encodeJson, type DecodeResult,
} from './codec.js'
export {
  Buckets, LOG_STREAM, STREAM, ensureBuckets, ensureLogStream, ensureStream, openBucket, type BucketName, type BusLayoutOptions, type LogStreamOptions,
} from './buckets.js'
export {
  ACTIVITY_STREAM, ACTIVITY_MAX_AGE_MS, ACTIVITY_MAX_MSGS, activitySubject, allActivity, ensureActivityStream, publishActivity, readActivity,
  type ActivityEvent, type ActivityKind, type ActivityPage, type StoredActivity,
} from './activity.js'
export {
  KvTable, type KvTableOptions, type TableChange,
} from './table.js'
export {
  rolePermissions, type NatsRole, type RoleIdentity, type RolePermissions,
} from './permissions.js'
export {
  redactUrls,
} from './redact.js'
export {
  openLogReader, type LogReader,
} from './log-reader.js'
export {
  REMOTE_TABLES, remoteBucket, mirrorDeliverPrefix, openRemoteMirror, bindRemoteMirror, mirrorState, siteLinkPermissions,
  type RemoteTable, type MirrorState, type MirrorOptions,
} from './sites.js'
export {
  EXPORT_ENDPOINTS, MIRROR_ORIGIN, openExportBucket,
} from './sites.js'
export {
  isTransient, retrying, type RetryOptions,
} from './retry.js'
export {
  followNodeChanges, nodeChanged,
} from './node-changes.js'
