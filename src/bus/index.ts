// bus: the only code that knows NATS (connection, subjects, stream and
// buckets, codec, KV mirror). Explicit list: other modules import only these.

export {
  DEFAULT_NATS, connectNats, connectionOptions, natsOptionsFrom, serverList, type NatsOptions,
} from './connect.js'
export {
  DEFAULT_PREFIX, lastToken, subjects, type Subjects,
} from './subjects.js'
export {
  MAX_MESSAGE_BYTES, decodeJson, encodeJson, type DecodeResult,
} from './codec.js'
export {
  Buckets, STREAM, ensureBuckets, ensureStream, openBucket, type BucketName, type BusLayoutOptions,
} from './buckets.js'
export {
  KvTable, type KvTableOptions, type TableChange,
} from './table.js'
